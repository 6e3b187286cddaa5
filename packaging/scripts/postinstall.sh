#!/bin/sh
# postinstall of the drpc package: dpkg runs it as `postinst configure
# [OLD-VERSION]`, rpm as %post with 1 (install) or 2 (upgrade).
# Makes the runtime directories of tmpfiles.d/drpc.conf, and where systemd
# runs (not in a container or chroot without it), reloads its units and, on
# an upgrade, restarts the daemons that were running. Nothing is enabled or
# started on a first install: the agent needs its key first.
set -e

case "$1" in
configure) [ -n "$2" ] && upgrade=yes || upgrade=no ;;
1) upgrade=no ;;
2) upgrade=yes ;;
*) exit 0 ;;
esac

if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/drpc.conf || true
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	if [ "$upgrade" = yes ]; then
		systemctl try-restart drpc-agent.service drpc-server.service || true
	fi
fi
exit 0
