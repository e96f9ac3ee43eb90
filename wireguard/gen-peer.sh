#!/bin/bash
# Adds a WireGuard peer (a laptop, a phone) to the homebase server: generates the peer's key
# pair and a preshared key, writes the peer's config and appends its [Peer] block to the
# server's config. Creates the server config (with a new server key) when it does not exist.
# Needs: wg (wireguard-tools). Keys never leave the two files, both mode 0600.
set -euo pipefail
umask 077

usage() {
  cat <<'EOF'
Usage: gen-peer.sh -e ENDPOINT [-c SERVER_CONF] [-o OUT_DIR] [-a ADDRESS] [-n SERVER_ADDRESS] [-p PORT] NAME

  NAME               peer name: 1-32 of A-Z a-z 0-9 _ - (becomes OUT_DIR/NAME.conf)
  -e ENDPOINT        public host or IP the peer dials, optionally host:port
  -c SERVER_CONF     the server's config (default /etc/wireguard/wg0.conf)
  -o OUT_DIR         where the peer's config goes (default ./peers)
  -a ADDRESS         the peer's tunnel address (default: the lowest free one in the server's subnet)
  -n SERVER_ADDRESS  only when creating SERVER_CONF: its address/prefix (default 10.44.0.1/24)
  -p PORT            only when creating SERVER_CONF: its ListenPort (default 51820)

Then, on a running server: wg syncconf wg0 <(wg-quick strip wg0)
EOF
}

die() {
  echo "gen-peer.sh: $*" >&2
  exit 1
}

conf=/etc/wireguard/wg0.conf out_dir=./peers endpoint="" address="" server_address=10.44.0.1/24 listen_port=51820
while getopts "e:c:o:a:n:p:h" opt; do
  case $opt in
    e) endpoint=$OPTARG ;;
    c) conf=$OPTARG ;;
    o) out_dir=$OPTARG ;;
    a) address=$OPTARG ;;
    n) server_address=$OPTARG ;;
    p) listen_port=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -eq 1 ]] || { usage >&2; exit 2; }
name=$1
[[ $name =~ ^[A-Za-z0-9_-]{1,32}$ ]] || die "peer name \"$name\": use 1-32 of A-Z a-z 0-9 _ -"
[[ -n $endpoint ]] || die "-e ENDPOINT is required (the server's public host or IP)"
command -v wg >/dev/null || die "wg not found: apt-get install wireguard-tools"

ip2int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
int2ip() { echo "$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"; }
is_ipv4() {
  local re='^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$'
  [[ $1 =~ $re ]]
}

# Value of KEY in the [Interface] section of the server config.
interface_value() {
  awk -v key="$1" '
    /^[[:space:]]*\[/ { section = $0; gsub(/[[:space:]\[\]]/, "", section); next }
    section == "Interface" && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" {
      sub(/^[^=]*=[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); print; exit
    }' "$conf"
}

# Splits an IPv4 address/prefix into cidr_ip and cidr_prefix; false unless prefix is /16../30.
split_cidr() {
  [[ $1 =~ ^([0-9.]+)/([0-9]+)$ ]] || return 1
  cidr_ip=${BASH_REMATCH[1]} cidr_prefix=${BASH_REMATCH[2]}
  is_ipv4 "$cidr_ip" && ((cidr_prefix >= 16 && cidr_prefix <= 30))
}

if [[ ! -e $conf ]]; then
  split_cidr "$server_address" || die "-n $server_address: expected an IPv4 address with a prefix from /16 to /30"
  [[ $listen_port =~ ^[0-9]+$ ]] && ((listen_port >= 1 && listen_port <= 65535)) || die "-p $listen_port: expected a UDP port"
  mkdir -p "$(dirname "$conf")"
  cat >"$conf" <<EOF
# WireGuard on the homebase server, created by gen-peer.sh on $(date -u +%Y-%m-%d).
# homebase listens on $(echo "$server_address" | cut -d/ -f1) (HOMEBASE_HOST); the firewall passes only UDP $listen_port
# on the public interface (wireguard/nftables.conf). Add peers with gen-peer.sh.
[Interface]
Address = $server_address
ListenPort = $listen_port
PrivateKey = $(wg genkey)
EOF
  echo "created $conf (new server key)" >&2
fi
[[ -r $conf ]] || die "cannot read $conf"

server_private=$(interface_value PrivateKey)
[[ -n $server_private ]] || die "$conf has no PrivateKey in [Interface]"
server_public=$(wg pubkey <<<"$server_private") || die "$conf: PrivateKey is not a WireGuard key"
server_cidr=$(interface_value Address | cut -d, -f1 | tr -d ' ')
split_cidr "$server_cidr" || die "$conf: Address \"$server_cidr\" is not an IPv4 address with a prefix from /16 to /30"
server_ip=$cidr_ip prefix=$cidr_prefix
port=$(interface_value ListenPort)
[[ $port =~ ^[0-9]+$ ]] || die "$conf has no ListenPort in [Interface]"
grep -qE "^# peer $name( |$)" "$conf" && die "a peer named \"$name\" is already in $conf"
[[ $endpoint == *:* ]] || endpoint="$endpoint:$port"

mask=$(((0xffffffff << (32 - prefix)) & 0xffffffff))
network=$(($(ip2int "$server_ip") & mask))
broadcast=$((network | (~mask & 0xffffffff)))
# Addresses taken: the server's and every peer's AllowedIPs (a fresh config has none).
used=" $server_ip $({ grep -E '^[[:space:]]*AllowedIPs[[:space:]]*=' "$conf" || true; } | sed -E 's/^[^=]*=//; s/,/ /g; s#/[0-9]+##g' | tr -s ' \t\n' '   ') "
if [[ -z $address ]]; then
  for ((host = network + 1; host < broadcast; host++)); do
    candidate=$(int2ip "$host")
    [[ $used == *" $candidate "* ]] || { address=$candidate; break; }
  done
  [[ -n $address ]] || die "no free address left in $server_cidr"
else
  is_ipv4 "$address" || die "-a $address: expected an IPv4 address"
  a=$(ip2int "$address")
  ((a > network && a < broadcast && (a & mask) == network)) || die "-a $address is not a host address of $server_cidr"
  [[ $used == *" $address "* ]] && die "-a $address is already taken in $conf"
fi

peer_private=$(wg genkey)
peer_public=$(wg pubkey <<<"$peer_private")
psk=$(wg genpsk)
mkdir -p "$out_dir"
peer_conf=$out_dir/$name.conf
[[ -e $peer_conf ]] && die "$peer_conf already exists"

cat >"$peer_conf" <<EOF
# WireGuard peer "$name" of the homebase server, generated by gen-peer.sh on $(date -u +%Y-%m-%d).
# Install as /etc/wireguard/wg0.conf (wg-quick up wg0) or import it into the WireGuard app.
[Interface]
PrivateKey = $peer_private
Address = $address/32

[Peer]
# the homebase server: only its tunnel address goes through the tunnel
PublicKey = $server_public
PresharedKey = $psk
Endpoint = $endpoint
AllowedIPs = $server_ip/32
PersistentKeepalive = 25
EOF

cat >>"$conf" <<EOF

[Peer]
# peer $name (gen-peer.sh $(date -u +%Y-%m-%d))
PublicKey = $peer_public
PresharedKey = $psk
AllowedIPs = $address/32
EOF

echo "peer $name: $address, config $peer_conf; added to $conf" >&2
echo "apply on a running server: wg syncconf wg0 <(wg-quick strip wg0)" >&2
