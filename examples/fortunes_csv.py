#!/usr/bin/env python3
"""Build a fortune-topic classification data set from Debian's `fortunes` package.

    apt-get install fortunes
    python3 examples/fortunes_csv.py OUT_DIR      # writes OUT_DIR/train.csv and OUT_DIR/test.csv

Eight files of /usr/share/games/fortunes are the classes, in this order (label 0..7):
computers, politics, science, songs-poems, work, law, food, education. A fortune is the text
between `%` lines, with overstrike (`X<BS>`) removed and whitespace runs collapsed to one
space; empty and duplicate fortunes are dropped (a text seen in two files keeps its first).
Each category is shuffled with a seeded generator and split 80/20 into train and test.
Standard library only.
"""

import csv
import os
import random
import re
import sys

CATEGORIES = ["computers", "politics", "science", "songs-poems", "work", "law", "food", "education"]
FORTUNES = "/usr/share/games/fortunes"
SEED = 0
TEST_FRACTION = 0.2


def fortunes(path):
    """The fortunes of one file, cleaned."""
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    out = []
    for chunk in re.split(r"^%\s*$", raw, flags=re.MULTILINE):
        # Overstrike: a character followed by a backspace is printed over; drop both.
        while "\b" in chunk:
            chunk = re.sub(r".\x08", "", chunk)
            chunk = chunk.replace("\b", "")
        text = " ".join(chunk.split())
        if text:
            out.append(text)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fortunes_csv.py OUT_DIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    seen = set()
    train, test = [], []
    for label, name in enumerate(CATEGORIES):
        path = os.path.join(FORTUNES, name)
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: apt-get install fortunes")
        texts = []
        for text in fortunes(path):
            if text not in seen:
                seen.add(text)
                texts.append(text)
        rng = random.Random(f"{SEED}-{name}")
        rng.shuffle(texts)
        n_test = round(len(texts) * TEST_FRACTION)
        test += [(t, label) for t in texts[:n_test]]
        train += [(t, label) for t in texts[n_test:]]
        print(f"{label} {name}: {len(texts) - n_test} train, {n_test} test", file=sys.stderr)
    for split, rows in (("train", train), ("test", test)):
        with open(os.path.join(out_dir, f"{split}.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(rows)
    print(f"{len(train)} train, {len(test)} test rows in {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
