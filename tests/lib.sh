# Shared by the test scripts (sourced, not run): installing what a check needs from Debian's
# packages or PyPI, and starting the service for checks that talk to it over HTTP.

# deb_install COMMAND PACKAGE...: install the Debian packages unless COMMAND is already there.
deb_install() {
    local command=$1
    shift
    command -v "$command" >/dev/null && return 0
    echo "== installing $* (Debian)"
    local sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# python_tools REQUIREMENT...: a virtual environment under target/ with these PyPI packages
# (pinned by the caller); puts its bin/ first on PATH.
python_tools() {
    local venv="$PWD/target/pyenv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
    export PATH="$venv/bin:$PATH"
}

# free_port: a TCP port on loopback nobody listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# serve_demo [SERVE ARGUMENT...]: start the debug build on the embedded demo with one key of every
# scope, wait until it is ready, and stop it when the calling script exits. Sets JC_URL and JC_KEY.
serve_demo() {
    local dir port key
    dir=$(mktemp -d)
    port=$(free_port)
    # Written to a file first: `head` closing the pipe early would fail the script (pipefail).
    target/debug/jiangcheng keys new --department checks \
        --scopes decide,read_subject,feedback,admin,export,replay >"$dir/new-key" 2>/dev/null
    key=$(head -1 "$dir/new-key")
    sed -n '/^\[\[key\]\]/,$p' "$dir/new-key" >"$dir/keys.toml"
    target/debug/jiangcheng serve --listen "127.0.0.1:$port" --keys "$dir/keys.toml" \
        --register-dir "$dir/register" "$@" >"$dir/serve.log" 2>&1 &
    local pid=$!
    # shellcheck disable=SC2064
    trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf '$dir'" EXIT
    for _ in $(seq 1 300); do
        if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
            export JC_URL="http://127.0.0.1:$port" JC_KEY="$key"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the service did not become ready; its log:" >&2
    cat "$dir/serve.log" >&2
    return 1
}
