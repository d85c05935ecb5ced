#!/usr/bin/env python3
"""Aligns the English and French LibreOffice help (Debian libreoffice-help-en-us and
libreoffice-help-fr) into paragraph pairs, standard library only.

Both languages are generated from the same .xhp sources, so a page has the same block structure
in both: the <title> and, inside <div id="DisplayArea">, the <p>/<li>/<td>/<th>/<dt>/<dd>/<h1-6>
blocks (a block nested in another is a block of its own; the outer one keeps only its own text).
Blocks are paired by position within a page. A page is skipped when the block counts or the block
tags differ, or when two blocks at the same position carry different id attributes.

Usage: lo_help_align.py EN_DIR FR_DIR OUT.tsv   (the help's en-US/ and fr/ directories)
Output: one pair a line, "lo-help:<page path>\\t<english>\\t<french>", pages in sorted order;
whitespace collapsed to single spaces (so no tab or newline in a text). Prints a summary line.
"""
import os
import sys
from html.parser import HTMLParser

BLOCKS = {'p', 'li', 'td', 'th', 'dt', 'dd', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'title'}
VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source',
        'track', 'wbr'}


class Blocks(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks = []      # [tag, id, [text pieces]] in document order of their start
        self.open = []        # indices into blocks of the open block elements
        self.div_depth = 0    # depth of <div> nesting inside DisplayArea (0: outside)
        self.skip = 0         # inside <script> or <style>

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ('script', 'style'):
            self.skip += 1
            return
        if tag == 'div':
            if self.div_depth:
                self.div_depth += 1
            elif a.get('id') == 'DisplayArea':
                self.div_depth = 1
        if tag == 'br' and self.open:
            self.blocks[self.open[-1]][2].append(' ')
        if tag in BLOCKS and (tag == 'title' or self.div_depth):
            self.blocks.append([tag, a.get('id'), []])
            self.open.append(len(self.blocks) - 1)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in ('script', 'style'):
            self.skip = max(0, self.skip - 1)
            return
        if tag == 'div' and self.div_depth:
            self.div_depth -= 1
        if tag in BLOCKS:
            # close the innermost open block of this tag (and any unclosed blocks inside it)
            for k in range(len(self.open) - 1, -1, -1):
                if self.blocks[self.open[k]][0] == tag:
                    del self.open[k:]
                    break

    def handle_data(self, data):
        if self.open and not self.skip:
            self.blocks[self.open[-1]][2].append(data)


def page_blocks(path):
    p = Blocks()
    with open(path, encoding='utf-8') as f:
        p.feed(f.read())
    p.close()
    return [(tag, bid, ' '.join(''.join(text).split())) for tag, bid, text in p.blocks]


def main():
    en_root, fr_root, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    pages = []
    for d, _, files in os.walk(en_root):
        for name in files:
            if name.endswith('.html'):
                pages.append(os.path.relpath(os.path.join(d, name), en_root))
    pages.sort()
    aligned = skipped = missing = pairs = 0
    tmp = out_path + '.tmp'
    with open(tmp, 'w', encoding='utf-8', newline='\n') as out:
        for rel in pages:
            fr_path = os.path.join(fr_root, rel)
            if not os.path.exists(fr_path):
                missing += 1
                continue
            en, fr = page_blocks(os.path.join(en_root, rel)), page_blocks(fr_path)
            if len(en) != len(fr) or any(e[0] != f[0] or (e[1] and f[1] and e[1] != f[1])
                                         for e, f in zip(en, fr)):
                skipped += 1
                continue
            aligned += 1
            for e, f in zip(en, fr):
                if e[2] and f[2]:
                    out.write(f'lo-help:{rel}\t{e[2]}\t{f[2]}\n')
                    pairs += 1
    os.replace(tmp, out_path)
    print(f'lo_help_align: {len(pages)} pages, {aligned} aligned, {skipped} skipped (different '
          f'blocks), {missing} without a French page, {pairs} block pairs -> {out_path}')


if __name__ == '__main__':
    main()
