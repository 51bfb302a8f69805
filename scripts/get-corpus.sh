#!/usr/bin/env bash
# Downloads the public Korean corpora this project's default speedrun uses into
# DIR/corpus and DIR/chat (default ../shared/data), for machines with internet
# access. Then: DOKJA_DATA=DIR make speedrun.
#   NSMC movie reviews (CC0), Korean chatbot Q/A pairs (MIT), Tiny Shakespeare.
set -euo pipefail
DIR=${1:-../shared/data}
mkdir -p "$DIR/corpus" "$DIR/chat"
fetch() { echo "downloading $2"; curl -fL --retry 3 -o "$2" "$1"; }
fetch https://raw.githubusercontent.com/e9t/nsmc/master/ratings.txt "$DIR/corpus/ko-nsmc-ratings.tsv.tmp"
# NSMC is "id<TAB>document<TAB>label": keep the text, one review a line
cut -f2 "$DIR/corpus/ko-nsmc-ratings.tsv.tmp" | tail -n +2 >"$DIR/corpus/ko-nsmc-reviews.txt"
rm "$DIR/corpus/ko-nsmc-ratings.tsv.tmp"
fetch https://raw.githubusercontent.com/songys/Chatbot_data/master/ChatbotData.csv "$DIR/chat/ko-chatbot.csv"
fetch https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt "$DIR/corpus/en-shakespeare.txt"
echo "corpus in $DIR/corpus, chat data in $DIR/chat"
