# Shared by the benchmark scripts (source it; it defines functions and sets nothing else).
# Expects: $bin (the zorgkluis binary) and the array args (global flags: --data-dir, and
# --database-url where used).

# Starts `zorgkluis serve` on a random loopback port in the background; sets $server (the
# server's own pid: the binary is started directly, never through a function or subshell)
# and $url (http://127.0.0.1:PORT). Extra arguments go to `serve`. $1: the log file.
zk_start_server() {
  local log="$1"; shift
  env -u ZORGKLUIS_DATABASE_URL -u ZORGKLUIS_CONFIG "$bin" "${args[@]}" serve \
    --listen 127.0.0.1:0 "$@" > "$log" 2>&1 &
  server=$!
  url=""
  for _ in $(seq 1 600); do
    url="$(sed -n 's/.*running at \(http:\/\/[0-9.:]*\).*/\1/p' "$log" | head -n1)"
    [ -n "$url" ] && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  return 1
}

# Stops the server started by zk_start_server, if any, and waits for it.
zk_stop_server() {
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}

# Registers an API client acting as the demo GP; sets $client_id and $client_secret.
# $1: the client's name.
zk_gp_client() {
  local out
  out="$(env -u ZORGKLUIS_DATABASE_URL -u ZORGKLUIS_CONFIG "$bin" "${args[@]}" clients add \
    --name "$1" --user huisarts.jansen --scopes "user/*.*")"
  client_id="$(printf '%s\n' "$out" | sed -n 's/^client_id[[:space:]]*//p' | head -n1)"
  client_secret="$(printf '%s\n' "$out" | sed -n 's/^client_secret[[:space:]]*//p' | head -n1)"
  if [ -z "$client_id" ] || [ -z "$client_secret" ]; then
    echo "could not read the client id and secret from: $out" >&2
    return 1
  fi
}

# Prints the Practitioner id of the staff account LOGIN (the third column of `users list`),
# for `bench http --practitioner`; fails when the account has none. $1: the login.
zk_practitioner() {
  local id
  id="$(env -u ZORGKLUIS_DATABASE_URL -u ZORGKLUIS_CONFIG "$bin" "${args[@]}" users list \
    | awk -v login="$1" '$1 == login { print $3; exit }')"
  if [ -z "$id" ] || [ "$id" = "-" ]; then
    echo "no practitioner id for $1 in \`zorgkluis users list\`" >&2
    return 1
  fi
  printf '%s\n' "$id"
}

# Prints a bearer token for the client ($client_id, $client_secret) from $url/oauth/token.
zk_token() {
  python3 - "$url/oauth/token" "$client_id" "$client_secret" <<'PY'
import base64, json, sys, urllib.parse, urllib.request
url, cid, secret = sys.argv[1:]
req = urllib.request.Request(url, data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
                             headers={"Authorization": "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode(),
                                      "Content-Type": "application/x-www-form-urlencoded"})
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
}
