# Sourced by docker/*/build.sh: the plain Debian image every project image starts from.
#   debian_base <codename>   prints an image name, creating it when needed:
#   an existing clinic-debian-base:<codename>, else `docker pull debian:<codename>`
#   when a registry answers, else debootstrap from $DEBIAN_MIRROR and `docker import`.
# (debootstrap's include list is what the systemd test hosts need; the slimmer
# images install only what they use on top of it.)
debian_mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

debian_codename() {
  case $1 in
    12 | bookworm) echo bookworm ;;
    13 | trixie) echo trixie ;;
    *) echo "unknown Debian release '$1' (12 or 13)" >&2; return 2 ;;
  esac
}

debian_base() {
  local name=$1 base="clinic-debian-base:$1" root
  if docker image inspect "$base" >/dev/null 2>&1; then echo "$base"; return; fi
  if timeout 60 docker pull -q "debian:$name" >/dev/null 2>&1; then echo "debian:$name"; return; fi
  if ! command -v debootstrap >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    else
      echo "no registry answers and debootstrap is missing (apt-get install debootstrap)" >&2; return 1
    fi
  fi
  root=$(mktemp -d)
  echo "debootstrap $name from $debian_mirror (about a minute)" >&2
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3,sudo,ca-certificates \
    "$name" "$root" "$debian_mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -rf "$root"; return 1; }
  tar -C "$root" -c . | docker import - "$base" >/dev/null
  rm -rf "$root" "$root.log"
  echo "$base"
}

# Copies the extra CA certificates to trust ($TEST_HOST_EXTRA_CA_DIR, default the
# host's /usr/local/share/ca-certificates) into DIR/extra-ca.
copy_extra_cas() {
  local ca_dir=${TEST_HOST_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
  mkdir -p "$1/extra-ca"
  if [[ -d $ca_dir ]]; then
    find "$ca_dir" -maxdepth 2 -name '*.crt' -exec cp {} "$1/extra-ca/" \;
  fi
}
