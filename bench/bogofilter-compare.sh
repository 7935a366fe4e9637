#!/usr/bin/env bash
# Rampart's spam classifier beside bogofilter (Debian package) on the same cross-corpus splits:
# each trains on the listed training corpora and scores the test corpus; the same Python code
# computes AUC, (1-ROCA)% and spam recall at 0.5% ham false positives for both.
#
#   bench/bogofilter-compare.sh            # corpora unpacked in target/corpora (see README)
#
# Splits: train Enron+CSDMC -> test SpamAssassin; train SpamAssassin+CSDMC -> test Enron.
set -euo pipefail
cd "$(dirname "$0")/.."
C=${CORPORA:-target/corpora}
command -v bogofilter >/dev/null || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends bogofilter >/dev/null; }
cargo build --release -q -p rampart
R=target/release/rampart
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

# paths of one label from index files, absolute
paths() { local label=$1; shift; for idx in "$@"; do awk -v l="$label" -v d="$(dirname "$idx")" '$1==l {print d"/"$2}' "$idx"; done; }

metrics() { python3 - "$1" <<'PY'
import sys
rows=[l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
s=[(float(r[2]), r[1]!='ham') for r in rows if r[1] in ('ham','spam')]
pos=[p for p,y in s if y]; neg=sorted([p for p,y in s if not y], reverse=True)
# AUC by ranks, ties half
srt=sorted(s); rank=0.0; i=0; rs=0.0
while i<len(srt):
    j=i
    while j<len(srt) and srt[j][0]==srt[i][0]: j+=1
    avg=(i+j+1)/2; rs+=avg*sum(1 for k in range(i,j) if srt[k][1]); i=j
P=len(pos); N=len(neg); auc=(rs-P*(P+1)/2)/(P*N)
allowed=int(0.005*N); thr=neg[allowed] if allowed<N else float('-inf')
rec=sum(1 for p in pos if p>thr)/P
print(f"AUC {auc:.5f}  (1-ROCA)% {100*(1-auc):.4f}  recall@0.5%FPR {100*rec:.2f}%  ({P} spam, {N} ham)")
PY
}

split() {
  local name=$1 test=$2; shift 2
  echo "== $name"
  # bogofilter
  local db="$W/bogo-$name"; mkdir -p "$db"
  # bogofilter's exit status is its verdict (0 spam, 1 ham, 2 unsure), not success: ignore it.
  paths ham "$@" | xargs -d '\n' -n 2000 bogofilter -d "$db" -n -B || true
  paths spam "$@" | xargs -d '\n' -n 2000 bogofilter -d "$db" -s -B || true
  : > "$W/bogo.tsv"
  for label in ham spam; do
    paths "$label" "$test" | xargs -d '\n' -n 2000 bogofilter -d "$db" -T -B \
      | awk -v l="$label" '{print $1"\t"l"\t"$3}' >> "$W/bogo.tsv" || true
  done
  echo -n "bogofilter  "; metrics "$W/bogo.tsv"
  # rampart
  local args=(); for i in "$@"; do args+=(--index "$i"); done
  $R train spam "${args[@]}" --out "$W/$name.rmc" >/dev/null 2>&1
  $R eval spam --index "$test" --model "$W/$name.rmc" --scores "$W/rampart.tsv" >/dev/null 2>&1
  echo -n "rampart     "; metrics "$W/rampart.tsv"
}

split "enron+csdmc->spamassassin" "$C/spamassassin/index" "$C/enron-spam/index" "$C/csdmc2010/index"
split "spamassassin+csdmc->enron" "$C/enron-spam/index" "$C/spamassassin/index" "$C/csdmc2010/index"
