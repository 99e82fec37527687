#!/usr/bin/env bash
# Installs seqspool's Debian package, tries it and removes it, checking each
# step: `bash packaging/check-deb.sh target/debian/seqspool_*.deb` (as root,
# or with sudo). CI runs it after packaging/build-deb.sh.
#
# dpkg -i; the files, the seqspool user and /var/lib/seqspool are there; the
# installed binary serves as that user, with the installed configuration, on
# a temporary directory and a free loopback port, and the installed client
# submits to it, waits and fetches the result; a reinstall (the upgrade
# path) keeps an edited /etc/seqspool/seqspool.toml and the data; dpkg
# --remove keeps the data and says so; dpkg --purge leaves nothing.
#
# It refuses to run where seqspool is installed already: it would purge it.
set -euo pipefail

deb=${1:?usage: check-deb.sh PACKAGE.deb}
deb=$(realpath "$deb")

as_root=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "check-deb.sh: needs root (or sudo)" >&2; exit 1; }
    as_root=(sudo)
fi
root() { "${as_root[@]}" "$@"; }

fail() { echo "check-deb.sh: $*" >&2; exit 1; }
step() { printf -- '--> %s\n' "$*"; }

if dpkg-query -W -f '${Status}' seqspool 2>/dev/null | grep -q 'installed'; then
    fail "seqspool is installed on this machine already; this check would purge it"
fi

work=$(mktemp -d)
# The seqspool user serves from a directory in it.
chmod 755 "$work"
server=""
cleanup() {
    if [[ -n $server ]]; then root kill "$server" 2>/dev/null || true; fi
    root rm -rf "$work"
}
trap cleanup EXIT

step "dpkg -i $(basename "$deb")"
root env DEBIAN_FRONTEND=noninteractive dpkg -i "$deb"
root dpkg -L seqspool >"$work/files"

step "what it installed"
for path in /usr/bin/seqspool /etc/seqspool/seqspool.toml \
    /usr/lib/systemd/system/seqspool.service \
    /usr/share/man/man1/seqspool.1.gz /usr/share/man/man1/seqspool-submit.1.gz \
    /usr/share/bash-completion/completions/seqspool \
    /usr/share/zsh/vendor-completions/_seqspool \
    /usr/share/fish/vendor_completions.d/seqspool.fish; do
    [[ -f $path ]] || fail "$path is missing"
done
grep -qx /etc/seqspool/seqspool.toml /var/lib/dpkg/info/seqspool.conffiles ||
    fail "/etc/seqspool/seqspool.toml is not a conffile"
getent passwd seqspool >/dev/null || fail "no seqspool user"
[[ $(id -u seqspool) -lt 1000 ]] || fail "seqspool is not a system user"
[[ $(stat -c %U /var/lib/seqspool) == seqspool ]] || fail "/var/lib/seqspool is not seqspool's"
/usr/bin/seqspool --version

step "seqspool user, as the service's user, finds the data directory by the configuration"
root setpriv --reuid seqspool --regid seqspool --init-groups \
    /usr/bin/seqspool user add ci --config /etc/seqspool/seqspool.toml >/dev/null
[[ -f /var/lib/seqspool/experiments/.users.json ]] || fail "user add wrote no /var/lib/seqspool/experiments/.users.json"

step "the installed binary serves, as seqspool, with the installed configuration"
root install -d -o seqspool -g seqspool "$work/data"
# Started directly (not through root(), a function, which would run in a
# subshell of its own), and setpriv execs the server: $! is the server.
"${as_root[@]}" setpriv --reuid seqspool --regid seqspool --init-groups /usr/bin/seqspool serve --config /etc/seqspool/seqspool.toml \
    --experiments "$work/data/experiments" --bind 127.0.0.1:0 2>"$work/log" &
server=$!
url=""
for _ in $(seq 300); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/log" | head -1)
    [[ -n $url ]] && break
    kill -0 "$server" 2>/dev/null || fail "the server exited: $(cat "$work/log")"
    sleep 0.1
done
[[ -n $url ]] || fail "the server did not say where it listens: $(cat "$work/log")"
export SEQSPOOL_URL=$url
/usr/bin/seqspool submit --name ci --sequence ACGTACGTTGCA --wait
/usr/bin/seqspool results 1 --out "$work/out"
grep -q '"length": *12' "$work/out/000001-ci/analysis.json" || fail "no analysis in the result"
root kill -TERM "$server"
wait "$server" || fail "the server did not stop cleanly: $(cat "$work/log")"
server=""

step "a reinstall (the upgrade path) keeps the edited configuration and the data"
echo '# edited by check-deb.sh' | root tee -a /etc/seqspool/seqspool.toml >/dev/null
root touch /var/lib/seqspool/kept
root env DEBIAN_FRONTEND=noninteractive dpkg -i "$deb"
grep -q 'edited by check-deb.sh' /etc/seqspool/seqspool.toml || fail "the configuration was replaced"
[[ -e /var/lib/seqspool/kept ]] || fail "the upgrade lost /var/lib/seqspool"

step "dpkg --remove keeps the data"
root dpkg --remove seqspool 2>&1 | tee "$work/remove"
grep -q 'kept /var/lib/seqspool' "$work/remove" || fail "removal did not say the data is kept"
[[ -e /var/lib/seqspool/kept ]] || fail "removal lost /var/lib/seqspool"
[[ ! -e /usr/bin/seqspool ]] || fail "removal left /usr/bin/seqspool"

step "dpkg --purge leaves nothing"
root dpkg --purge seqspool 2>&1 | tee "$work/purge"
grep -q 'removing /var/lib/seqspool' "$work/purge" || fail "purge did not say it removes the data"
if dpkg-query -W seqspool >/dev/null 2>&1; then fail "dpkg still knows seqspool"; fi
while read -r path; do
    [[ -d $path ]] && continue # shared directories (/usr/bin) stay
    [[ ! -e $path ]] || fail "purge left $path"
done <"$work/files"
for path in /etc/seqspool /var/lib/seqspool /usr/share/doc/seqspool \
    /etc/systemd/system/multi-user.target.wants/seqspool.service; do
    [[ ! -e $path ]] || fail "purge left $path"
done
if getent passwd seqspool >/dev/null; then fail "purge left the seqspool user"; fi
if getent group seqspool >/dev/null; then fail "purge left the seqspool group"; fi
step "the package installs, serves and leaves nothing behind"
