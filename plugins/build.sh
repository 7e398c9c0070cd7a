#!/usr/bin/env bash
# Rebuilds every committed .wasm under plugins/ from its source.
#
#   plugins/build.sh           rebuild into place (examples/<name>/<name>.wasm, hostile/<name>/<name>.wasm)
#   plugins/build.sh --check   rebuild into a temporary folder and report which committed files differ
#   plugins/build.sh --rust    only the Rust guests (skips the JavaScript example and its tools)
#
# Rust guests: one cargo workspace (plugins/Cargo.toml), target wasm32-wasip2, built with the
# target dir outside the repo. The JavaScript example is built with jco (QuickJS backend,
# componentize-qjs), installed (pinned by plugins/examples/seasonal-weekend-js/package-lock.json)
# under the tools cache; needs node and npm. Idempotent: running it twice rebuilds nothing that is up to date.
#
# Environment: STAYBASE_CI_CACHE (default /var/cache/staybase-ci), CARGO_TARGET_DIR (default
# $STAYBASE_CI_CACHE/target-plugins), PLUGIN_TOOLS_DIR (default $STAYBASE_CI_CACHE/plugin-tools).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${STAYBASE_CI_CACHE:-/var/cache/staybase-ci}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target-plugins}
tools=${PLUGIN_TOOLS_DIR:-$cache/plugin-tools}

check=false
js=true
for arg in "$@"; do
    case $arg in
        --check) check=true ;;
        --rust) js=false ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

rust_examples=(seasonal-weekend stay-discounts review-guard)
hostile=(infinite-loop memory-grower deep-recursion panic huge-output wrong-world wasi-filesystem wasi-sockets review-panic bad-output)
js_examples=(seasonal-weekend-js)

if $check; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
else
    out=$here
fi

log() { echo "build.sh: $*" >&2; }

# --- Rust guests ------------------------------------------------------------------------------
if command -v rustup >/dev/null; then
    rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2
fi
# Source paths end up in panic messages: make them independent of where the repo is checked out.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# A 64 KiB stack instead of the default 1 MiB keeps a guest's memory small, so the host resets
# it between calls by clearing a few pages rather than unmapping them.
export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$here=/plugins --remap-path-prefix=$cargo_home=/cargo -C link-arg=-zstack-size=65536"
log "cargo build (wasm32-wasip2, release) into $CARGO_TARGET_DIR"
nice -n 19 cargo build --locked --release --target wasm32-wasip2 --manifest-path "$here/Cargo.toml"

release=$CARGO_TARGET_DIR/wasm32-wasip2/release
for n in "${rust_examples[@]}"; do
    install -D -m 644 "$release/${n//-/_}.wasm" "$out/examples/$n/$n.wasm"
done
for n in "${hostile[@]}"; do
    install -D -m 644 "$release/${n//-/_}.wasm" "$out/hostile/$n/$n.wasm"
done

# --- JavaScript example (jco componentize) ----------------------------------------------------
if $js; then
    for n in "${js_examples[@]}"; do
        src=$here/examples/$n
        tooldir=$tools/$n
        mkdir -p "$tooldir"
        # Install the pinned tools once; again only when the lock file changes.
        if ! cmp -s "$src/package-lock.json" "$tooldir/package-lock.json" || [ ! -x "$tooldir/node_modules/.bin/jco" ]; then
            log "installing jco + componentize-js into $tooldir"
            cp "$src/package.json" "$src/package-lock.json" "$tooldir/"
            (cd "$tooldir" && nice -n 19 npm ci --no-audit --no-fund --loglevel=error)
        fi
        log "jco componentize $n (QuickJS backend, WASI stubbed)"
        mkdir -p "$out/examples/$n"
        # QuickJS, not StarlingMonkey: StarlingMonkey's component is ~12.5 MB (over the 4 MiB
        # limit); QuickJS with --backend-qjs-stub-wasi is ~1.6 MB and imports no WASI at all.
        # jco wants absolute paths here.
        nice -n 19 "$tooldir/node_modules/.bin/jco" componentize "$src/$n.js" \
            --wit "$here/wit/plugin.wit" --world-name pricing \
            --backend quickjs --backend-qjs-disable-async --backend-qjs-stub-wasi \
            -o "$out/examples/$n/$n.wasm" >&2
    done
fi

# --- Report -----------------------------------------------------------------------------------
if $check; then
    differ=0
    files=()
    for n in "${rust_examples[@]}"; do files+=("examples/$n/$n.wasm"); done
    for n in "${hostile[@]}"; do files+=("hostile/$n/$n.wasm"); done
    if $js; then for n in "${js_examples[@]}"; do files+=("examples/$n/$n.wasm"); done; fi
    for f in "${files[@]}"; do
        if [ ! -f "$here/$f" ]; then
            echo "missing  $f"; differ=$((differ + 1))
        elif cmp -s "$here/$f" "$out/$f"; then
            echo "same     $f"
        else
            echo "differs  $f ($(stat -c %s "$here/$f") committed, $(stat -c %s "$out/$f") rebuilt bytes)"
            differ=$((differ + 1))
        fi
    done
    echo "$differ of ${#files[@]} committed .wasm files differ from a fresh build"
else
    log "done"
fi
