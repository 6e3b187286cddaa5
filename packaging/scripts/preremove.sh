#!/bin/sh
# preremove of the drpc package: dpkg runs it as `prerm remove` (or
# upgrade, ...), rpm as %preun with 0 (erase) or 1 (upgrade).
# On removal, where systemd runs, stops and disables the units (their
# sockets too); an upgrade leaves them running (postinstall restarts them).
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl --no-reload disable --now \
		drpc-agent.socket drpc-agent.service drpc-server.socket drpc-server.service >/dev/null 2>&1 || true
fi
exit 0
