# dokja data prepare end to end: every input form, each cleaning step on
# planted cases (entities, front matter, crawler footers, frequent lines,
# personal data and look-alikes, exact and near duplicates, languages), every
# kind of bad input counted with its file and line, a manifest whose hashes
# sha256sum confirms, the same bytes for 1 and 2 threads, and failures that
# leave nothing behind. Python reads the output as an independent JSON parser.
. "$(dirname "$0")/lib.sh"
PY=${TORCH_PYTHON:-python3}
IN="$WORK/in"
mkdir -p "$IN/news" "$IN/pages"

# news-crawl Markdown: front matter, entities, crawler header and footer, personal data
cat >"$IN/news/001.md" <<'EOF'
---
title: "정부, &quot;새 정책&quot; 발표"
publisher: '한국일보'
author:
  - 김기자
url: https://news.example.kr/a/1?x=1
published_at: 2024-03-01T09:00:00+09:00
content_hash: 9f2c
---
Crawled at 2024-03-02 10:00:00
정부가 오늘 새로운 주거 정책을 발표했습니다. 장관은 &#x27;서민 주거 안정&#x27;이 최우선 과제라고 말했다.
문의는 담당자 이메일 policy.desk@korea.example.com 또는 전화 010-2345-6789 로 하면 된다.
대표번호 1588-1234 는 그대로 두고, 2024-01-15 같은 날짜와 4111-1111-1111-1112 같은 번호도 남는다.
수치는 A &#x3D; B &amp; C 형식으로 정리되었다.

원문 보기
EOF
printf -- '---\ntitle: 닫히지 않은 머리말\n본문이 시작되지 않는다\n' >"$IN/news/002.md"
# twelve pages sharing a footer line: frequent boilerplate
for i in $(seq 1 12); do
    printf '페이지 %d 의 고유한 본문 내용입니다. 이 문단은 서로 다른 이야기를 전합니다 번호 %d.\n구독과 좋아요 그리고 알림 설정 부탁드립니다\n' "$i" $((i * 7919)) >"$IN/pages/p$(printf %02d "$i").md"
done

# JSON lines (zstd): metadata, a malformed line, a missing field, invalid UTF-8, duplicates, languages, NFC
LONG="한국어 문서의 중복 제거를 시험하기 위한 충분히 긴 본문입니다. 여러 문장이 이어지고 각 문장은 조금씩 다른 내용을 담고 있어서 문자 단위의 엔그램이 많이 만들어집니다. 마지막 문장까지 읽으면 이 글이 원본이라는 것을 알 수 있습니다."
NEAR="${LONG/마지막/맨끝}"
{
    printf '{"id":"r1","rating":"10","text":"%s"}\n' "$LONG"
    printf '{"id":"r2","rating":"9","text":"배우들의 연기가 정말 훌륭했고 음악도 좋았습니다 다시 보고 싶어요"}\n'
    printf '{"id":"r3", "text": broken json}\n'
    printf '{"id":"r4","title":"text 필드가 없다"}\n'
    printf '{"id":"r5","text":"잘못된 바이트 \xff 가 들어간 리뷰지만 나머지 내용은 충분히 길어서 남습니다"}\n'
    printf '{"id":"r6","text":"배우들의 연기가 정말   훌륭했고, 음악도 좋았습니다! 다시 보고 싶어요."}\n'
    printf '{"id":"r7","text":"%s"}\n' "$NEAR"
    printf '{"id":"r8","text":"The acting was wonderful and the music was good, I would watch it again."}\n'
    printf '{"id":"r9","text":"この映画はとても面白かったです。また見たいと思います。"}\n'
    printf '{"id":"r10","text":"분해된 한글 \xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab\xe1\x84\x80\xe1\x85\xb3\xe1\x86\xaf 도 합쳐져서 나와야 합니다"}\n'
    printf '{"id":"r11","text":"주민번호 900101-1234568 와 카드 4111-1111-1111-1111 은 공개된 게시판의 글에서 반드시 지워져야 하는 개인 정보이므로 데이터 정리 과정에서 자동으로 가려지는지 확인하기 위해 일부러 길게 쓴 문장입니다"}\n'
} >"$WORK/reviews.jsonl"
zstd -q "$WORK/reviews.jsonl" -o "$IN/reviews.jsonl.zst"
# CSV with a quoted multi-line field, TSV
printf 'id,text,label\n1,"첫 줄의 내용이 있고\n둘째 줄에는 ""인용""이 있는 설문 응답입니다",a\n2,두 번째 응답은 한 줄로 충분히 길게 작성되었습니다,b\n' >"$IN/survey.csv"
printf 'text\tsource\n탭으로 구분된 파일의 문서도 읽을 수 있어야 합니다\tkobest\n' >"$IN/qa.tsv"
# .txt, a document per line with --lines; one line longer than --max-doc-bytes
{
    echo "첫 번째 줄 문서는 평범한 한국어 문장으로 되어 있습니다"
    head -c 5000 /dev/zero | tr '\0' 'x'
    echo
    echo "마지막 줄 문서도 평범한 한국어 문장으로 되어 있습니다"
} >"$IN/lines.txt"
# bad files: binary, empty, a cut .zst
printf 'PK\003\004\000\000binary' >"$IN/bin.txt"
: >"$IN/empty.txt"
head -c 60 "$IN/reviews.jsonl.zst" >"$IN/cut.jsonl.zst"

run() { "$DOKJA" data prepare --input "$IN" --lines --max-doc-bytes 4096 "$@"; }
run --out "$WORK/o1" --threads 1 2>"$WORK/log1"
run --out "$WORK/o2" --threads 2 2>/dev/null
for f in data-00000.jsonl.zst datacard.json datacard.md manifest.json; do
    cmp -s "$WORK/o1/$f" "$WORK/o2/$f" || fail "$f differs between 1 and 2 threads"
done
[ "$(ls "$WORK/o1" | xargs)" = "data-00000.jsonl.zst datacard.json datacard.md manifest.json" ] || fail "outputs: $(ls "$WORK/o1")"
[ ! -e "$WORK/o1.dokja-tmp" ] || fail "temporary directory left"
grep -q '"progress":"prepare"' "$WORK/log1" || fail "no progress lines"
zstd -dc "$WORK/o1/data-00000.jsonl.zst" >"$WORK/out.jsonl"

"$PY" - "$WORK/out.jsonl" "$WORK/o1" <<'EOF' || fail "output check"
import hashlib, json, os, sys
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
out = sys.argv[2]
card = json.load(open(os.path.join(out, "datacard.json")))
man = json.load(open(os.path.join(out, "manifest.json")))
def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr); sys.exit(1)
texts = "\n".join(d["text"] for d in docs)
for d in docs:
    check(set(d) >= {"id", "text", "source"} and d["source"] == "in", f"fields of {d}")
by_meta = {d["meta"]["id"]: d for d in docs if "meta" in d and "id" in d["meta"]}
# 1. entities, NFC, UTF-8 repair
news = [d for d in docs if d.get("meta", {}).get("publisher") == "한국일보"]
check(len(news) == 1, "the news article")
n = news[0]
check(n["meta"]["title"] == "정부, &quot;새 정책&quot; 발표" and n["meta"]["author"] == ["김기자"], f"front matter {n['meta']}")
check("'서민 주거 안정'" in n["text"] and "A = B & C" in n["text"] and "&#x" not in texts, "entities")
check("한글" in by_meta["r10"]["text"], "NFC")
check("\ufffd" in by_meta["r5"]["text"], "invalid UTF-8 replaced")
# 2. crawler lines and frequent lines gone, the rest kept
check("Crawled at" not in texts and "원문 보기" not in texts, "crawler header/footer")
pages = [d for d in docs if "고유한 본문" in d["text"]]
check(len(pages) == 12 and all("구독과 좋아요" not in d["text"] for d in pages), "frequent footer line")
# 5. personal data and look-alikes
check("<|email|>" in n["text"] and "<|phone|>" in n["text"] and "policy.desk" not in texts, "e-mail and phone")
check("1588-1234" in n["text"] and "2024-01-15" in n["text"] and "4111-1111-1111-1112" in n["text"], "look-alikes kept")
check(by_meta["r11"]["text"].count("<|") == 2 and "<|rrn|>" in by_meta["r11"]["text"] and "<|card|>" in by_meta["r11"]["text"], "rrn and card")
# 6. the first of each duplicate group is kept
check("r1" in by_meta and "r7" not in by_meta, "near duplicate: first kept")
check("r2" in by_meta and "r6" not in by_meta, "exact duplicate (after normalisation): first kept")
# 3. languages
check(card["total"]["languages_out"].get("en") == 1 and card["total"]["languages_out"].get("ja") == 1, f"languages {card['total']['languages_out']}")
# csv / tsv / txt
check("둘째 줄에는 \"인용\"이" in texts and "탭으로 구분된" in texts and "마지막 줄 문서" in texts, "csv, tsv, txt")
t = card["total"]
check(t["dedup"]["exact_duplicates"] == 1 and t["dedup"]["near_duplicates"] == 1 and t["dedup"]["clusters"] == 2, f"dedup {t['dedup']}")
check(t["pii_replaced"] == {"email": 1, "phone": 1, "rrn": 1, "card": 1}, f"pii {t['pii_replaced']}")
check(t["boilerplate_lines_removed"]["frequent"] == 12 and t["boilerplate_lines_removed"]["crawler"] == 2, f"boilerplate {t['boilerplate_lines_removed']}")
check(t["documents_out"] == len(docs), "documents_out")
# every kind of bad input, with file and line
want = {"binary": ("bin.txt", 0), "empty": ("empty.txt", 0), "truncated": ("cut.jsonl.zst", None),
        "malformed_json": ("reviews.jsonl.zst", 3), "missing_field": ("reviews.jsonl.zst", 4),
        "invalid_utf8": ("reviews.jsonl.zst", 5), "unclosed_front_matter": ("002.md", 1), "too_long": ("lines.txt", 2)}
for kind, (name, line) in want.items():
    items = [b for b in card["bad_input"] if b["kind"] == kind]
    check(len(items) == 1 and items[0]["path"].endswith(name) and (line is None or items[0]["line"] == line), f"bad input {kind}: {items}")
    check(t["bad_input"][kind] == 1, f"bad count {kind}")
check(card["bad_input_complete"], "bad input listed completely")
# the manifest: every output's sha256, every input file, the settings
for o in man["outputs"]:
    check(hashlib.sha256(open(os.path.join(out, o["path"]), "rb").read()).hexdigest() == o["sha256"], f"sha256 of {o['path']}")
check({o["path"] for o in man["outputs"]} == {"data-00000.jsonl.zst", "datacard.json", "datacard.md"}, "outputs listed")
check(len(man["inputs"]) == 21 and all(len(i["sha256"]) == 64 for i in man["inputs"]), f"{len(man['inputs'])} inputs")
check(man["config"]["near_dup_threshold"] == 0.8 and man["dokja_version"], "config in the manifest")
EOF
grep -q "| in | $IN |" "$WORK/o1/datacard.md" || fail "datacard.md lacks the source row"

# --languages: only Korean stays; the others are dropped with the reason named
run --out "$WORK/o3" --languages ko 2>/dev/null
grep -q '"language":[[:space:]]*2' "$WORK/o3/datacard.json" || fail "--languages ko drops en and ja"
# switches: no PII scrubbing, no near-duplicate removal
run --out "$WORK/o4" --pii false --near-dup-threshold 0 2>/dev/null
zstd -dc "$WORK/o4/data-00000.jsonl.zst" >"$WORK/o4.jsonl"
grep -q "policy.desk@korea.example.com" "$WORK/o4.jsonl" || fail "--pii false"
grep -q '"id":"r7"' "$WORK/o4.jsonl" || fail "--near-dup-threshold 0 keeps the near copy"

# failures: nothing usable, an output that exists, usage errors; nothing is left behind
expect_fail 1 "no usable input" "$DOKJA" data prepare --input "$IN/empty.txt" "$IN/bin.txt" --out "$WORK/none"
[ ! -e "$WORK/none" ] && [ ! -e "$WORK/none.dokja-tmp" ] || fail "a failed run left output"
expect_fail 1 "not empty" "$DOKJA" data prepare --input "$IN" --out "$WORK/o1"
expect_fail 1 "/dev/null" "$DOKJA" data prepare --input "$IN" --out /dev/null/out
expect_fail 2 "near_dup_threshold" "$DOKJA" data prepare --input "$IN" --out "$WORK/x" --near-dup-threshold 2
expect_fail 2 "unknown option" "$DOKJA" data prepare --input "$IN" --out "$WORK/x" --bogus 1
expect_fail 2 "needs --input" "$DOKJA" data prepare --out "$WORK/x"
expect_fail 2 "unknown subverb" "$DOKJA" data tidy
"$DOKJA" data --help | grep -q prepare || fail "data --help"
"$DOKJA" data prepare --help | grep -q -- "--near-dup-threshold" || fail "data prepare --help"
[ ! -e "$WORK/x" ] || fail "a usage error wrote output"
echo "1 passed, 0 failed"
