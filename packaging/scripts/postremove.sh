#!/bin/sh
# postremove of the drpc package: dpkg runs it as `postrm remove|purge|
# upgrade|...`, rpm as %postun with 0 (erase) or 1 (upgrade).
# On removal: where systemd runs, reloads its units; removes the runtime
# directories of tmpfiles.d/drpc.conf if they are empty (no daemon runs any
# more). dpkg's purge removes the configuration files itself; rpm keeps a
# changed one as .rpmsave.
set -e

case "$1" in
remove | purge | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
for d in /run/daos_agent /run/daos_server; do
	rmdir "$d" 2>/dev/null || true
done
exit 0
