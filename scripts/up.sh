#!/usr/bin/env bash
# make up: deploy the whole stack with the real site.yml (inventory/local) into a
# local Debian container with systemd, then print the URLs and where the
# credentials are. make down (up.sh --down) removes that container, and only it.
#
# The container shares the host's network, so what the roles bind to loopback
# (web, Flower, Redis, PostgreSQL) is on this machine's 127.0.0.1 and nowhere
# else, exactly as on a real host. UP_DEBIAN=13 picks Debian 13 (default 12).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
name=clinic-local
release=${UP_DEBIAN:-12}
export PATH="$root/.venv/bin:$PATH"

if [[ ${1:-} == --down ]]; then
  if docker inspect "$name" >/dev/null 2>&1; then
    docker rm -f "$name" >/dev/null
    echo "down: removed container $name"
  else
    echo "down: no container $name"
  fi
  exit 0
fi

bash scripts/docker-engine.sh
bash docker/test-host/build.sh "$release"

if ! docker inspect -f '{{ .State.Running }}' "$name" 2>/dev/null | grep -q true; then
  # Ports the stack will take on 127.0.0.1: refuse now rather than half-deploy.
  busy=()
  for port in 8000 5555 6379 5432; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then busy+=("$port"); fi
  done
  if ((${#busy[@]})); then
    echo "up: 127.0.0.1 port(s) ${busy[*]} already in use; stop what listens there (the stack needs 8000, 5555, 6379, 5432)" >&2
    exit 1
  fi
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --hostname "$name" --network host \
    --cap-add SYS_ADMIN --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
    --label clinic.role=make-up "clinic-test-host:debian$release" >/dev/null
  echo "up: started container $name (Debian $release)"
fi
docker exec "$name" systemctl is-system-running --wait >/dev/null 2>&1 || true

# The same test-host workaround Molecule's prepare.yml applies (see there), then the real playbook.
ANSIBLE_VAULT_PASSWORD_FILE=inventory/local/vault-password.txt \
  ansible-playbook -i inventory/local molecule/shared/prepare.yml site.yml

vault=$(ANSIBLE_VAULT_PASSWORD_FILE=inventory/local/vault-password.txt \
  ansible-vault view inventory/local/group_vars/all/vault.yml)
secret() { sed -n "s/^$1: \"\(.*\)\"/\1/p" <<<"$vault"; }
flower_pw=$(secret vault_flower_password)
cat <<EOT

up: the stack runs in container $name (Debian $release), deployed by site.yml:
  web      http://127.0.0.1:8000/healthz   (API: Authorization: Bearer \$API_TOKEN)
  token    export API_TOKEN='$(secret vault_django_api_token)'   (the local stack's test-only token)
  admin    http://127.0.0.1:8000/admin/    (user admin)
  Flower   http://127.0.0.1:5555/          (user admin)
  credentials: ansible-vault view inventory/local/group_vars/all/vault.yml
               (test-only vault password in inventory/local/vault-password.txt)
  programs: docker exec $name supervisorctl status
  logs:     docker exec $name ls /var/log/clinic
  stop:     make down
EOT
code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/healthz || true)
fcode=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$flower_pw" http://127.0.0.1:5555/api/workers || true)
echo "up: /healthz answered $code; Flower with its credentials answered $fcode"
[[ $code == 200 && $fcode == 200 ]]
