#!/usr/bin/env python3
"""scripts/api_doc.py [HEADER] - the C API reference, docs/API.md, from hardreid.h.

    python3 scripts/api_doc.py hardreid.h > docs/API.md    (make docs)

The header's comments are the documentation; this only gathers them. Out of
the declarations part (between `#define HARDREID_H` and its `#endif`) it
takes every public entity with the comment block directly above it (no blank
line between): HRDEF functions, the static inline ones declared there,
typedefs, HR_ macros. A comment standing alone (a blank line after it) is a
section's prose and is kept in its place. Sections follow the header's
`>>name` markers. Entities come out verbatim, in header order, in C code
blocks, so the text reads as in the header. Definitions (bodies) are left
out. The output depends on the header alone: make test-docs regenerates it
and compares with docs/API.md. Python 3 standard library only.
"""
import re
import sys


def strip_comments(text):
    return re.sub(r'/\*.*?\*/', '', text, flags=re.S)


def chunks(lines):
    """Split the declarations part into (kind, text_lines) at top level:
    'comment', 'blank', 'decl' (ends with ';' at depth 0), 'define', 'def'
    (a function body), 'pre' (other preprocessor lines)."""
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        s = line.strip()
        if not s:
            yield 'blank', [line]
            i += 1
        elif s.startswith('/*'):
            j = i
            while '*/' not in lines[j]:
                j += 1
            yield 'comment', lines[i:j + 1]
            i = j + 1
        elif s in ('extern "C" {', '}'):  # the C++ linkage block's brackets
            yield 'pre', [line]
            i += 1
        elif s.startswith('#'):
            j = i  # continued lines, and the lines of a trailing comment
            while lines[j].rstrip().endswith('\\') or '/*' in strip_comments('\n'.join(lines[i:j + 1])):
                j += 1
            yield ('define' if s.startswith('#define') else 'pre'), lines[i:j + 1]
            i = j + 1
        else:
            # a declaration or a definition: until ';' or '}' at depth 0
            depth, j = 0, i
            while True:
                code = re.sub(r'/\*.*?\*/', '', lines[j])
                depth += code.count('{') - code.count('}')
                body = '{' in code
                if depth == 0 and (code.rstrip().endswith(';') or
                                   (body or any('{' in x for x in lines[i:j])) and code.rstrip().endswith('}')):
                    break
                j += 1
            text = lines[i:j + 1]
            joined = ' '.join(text)
            is_def = not joined.lstrip().startswith('typedef') and '{' in joined
            yield ('def' if is_def else 'decl'), text
            i = j + 1


def name_of(kind, text):
    joined = ' '.join(x.strip() for x in text)
    if kind == 'define':
        return re.match(r'#define\s+(\w+)', joined).group(1)
    if joined.startswith('typedef'):
        m = re.search(r'}\s*(\w+)\s*;\s*$', re.sub(r'/\*.*?\*/', '', joined))
        return m.group(1) if m else re.search(r'(\w+)\s*;\s*$', joined).group(1)
    return re.search(r'(\w+)\s*\(', joined).group(1)


def public(kind, text, name):
    """What the reference lists: the API, not the header's plumbing."""
    first = text[0].strip()
    if kind == 'define':
        return (name.startswith('HR_') and not name.startswith('HR__')) or name.startswith('HARDREID_VERSION')
    if kind == 'decl':
        return first.startswith(('HRDEF', 'typedef', 'static HR__INLINE')) and not name.startswith('hr__')
    return False


def render(header):
    with open(header) as f:
        lines = f.read().split('\n')
    start = next(i for i, l in enumerate(lines) if l.startswith('#define HARDREID_H'))
    end = next(i for i, l in enumerate(lines) if l.startswith('#endif /* HARDREID_H */'))
    version = next(re.search(r'"(.*)"', l).group(1) for l in lines
                   if l.startswith('#define HARDREID_VERSION_STRING'))
    doc_end = next(i for i, l in enumerate(lines) if l.rstrip() == '*/')

    out = ['# hardreid C API reference (v%s)' % version, '',
           'Generated from `hardreid.h` by `scripts/api_doc.py` (`make docs`); do not',
           'edit: the comments in the header are the source, and `make test-docs` fails',
           'when this file no longer matches them. Every public function, type and macro',
           'of the declarations part, in header order, with the comment above it.', '']
    sections = []   # (title, [(name, kind, lines)]), the index and the body
    cur = ('overview', [])
    sections.append(cur)
    cur[1].append(('overview', 'prose', lines[:doc_end + 1]))

    pending = None  # the comment just read, if nothing but code follows it
    items = list(chunks(lines[start + 1:end]))
    for idx, (kind, text) in enumerate(items):
        nxt = items[idx + 1][0] if idx + 1 < len(items) else 'blank'
        if kind == 'comment':
            s = text[0].strip()
            m = re.match(r'/\*\s*>>([\w-]+)', s)
            if m:
                cur = (m.group(1), [])
                sections.append(cur)
                pending = None
            elif s.startswith('/* <<'):
                pending = None
            elif nxt in ('decl', 'define', 'def'):
                pending = text
            elif cur[0] != 'overview':
                cur[1].append((None, 'prose', text))
            continue
        if kind in ('decl', 'define'):
            name = name_of(kind, text)
            if public(kind, text, name):
                cur[1].append((name, kind, (pending or []) + text))
        pending = None

    # index
    out += ['## Contents', '']
    heading = lambda t: 'Overview: the doc block' if t == 'overview' else 'Section >>' + t
    for title, entries in sections:
        names = [e[0] for e in entries if e[0] and e[1] != 'prose']
        out.append('- **%s**: %s' % (heading(title), ', '.join('[`%s`](#%s)' % (x, x.lower()) for x in names)))
    out.append('')
    for title, entries in sections:
        out += ['## %s' % heading(title), '']
        for name, kind, text in entries:
            if name and kind != 'prose':
                out += ['### %s' % name, '']
            out += ['```c'] + [l.rstrip() for l in text] + ['```', '']
    return '\n'.join(out).rstrip('\n') + '\n'


if __name__ == '__main__':
    sys.stdout.write(render(sys.argv[1] if len(sys.argv) > 1 else 'hardreid.h'))
