// gen_hf_cases.js writes the expected ids that Hugging Face's own `tokenizers` library gives for
// the released t5-small tokenizer.json and the Llama-2 tokenizer.json, for the texts built below.
// The Go tests compare against these files and never need node or the network.
//
// How it was run (node 20, the npm package `tokenizers` 0.23.2, Node bindings of the Rust library;
// Debian's python3-sentencepiece 0.1.97 to rebuild the Llama-2 file, see llama2_json.py):
//
//   mkdir -p /tmp/tokjs && cd /tmp/tokjs && npm install tokenizers@0.23.2
//   cd <repo>/backbones/tokenizers/testdata/hf
//   /usr/bin/python3 llama2_json.py rebuild /tmp/llama2-tokenizer.json
//   NODE_PATH=/tmp/tokjs/node_modules node gen_hf_cases.js /tmp/llama2-tokenizer.json
//   /usr/bin/python3 gen_spm_cases.py
//
// Output, one JSON object a line ({"text", "ids", "decoded"}; ids without special tokens added,
// decoded = decode(ids, skip_special_tokens=true)):
//   t5_cases.jsonl          t5-small tokenizer.json (testdata/models/t5-small-tokenizer)
//   llama2_json_cases.jsonl Llama-2 tokenizer.json (rebuilt from ../llama2-tokenizer-novocab.json.gz)
// texts.json lists the inputs; gen_spm_cases.py encodes the same texts with sentencepiece.
'use strict'
const fs = require('fs')
const path = require('path')
const { Tokenizer } = require('tokenizers')

const here = __dirname
const repo = path.resolve(here, '../../../..')
const data = path.join(repo, 'testdata/data')

// Edge cases: whitespace, normalisation, invisible and control characters, scripts, specials.
const edge = [
  '', ' ', '  ', '\t', '\n', '\r\n', '\u3000', 'a', 'A', '0', '.',
  'Hello world', ' Hello world', 'Hello world ', '  Hello   world  ', 'Hello\tworld', 'Hello\nworld',
  'line one\r\nline two\r\n', '\r\n\r\nleading CRLF', 'tabs\t\tand\t spaces', 'x' + ' '.repeat(40) + 'y',
  ' '.repeat(17), 'trailing spaces    ', '    leading spaces', 'mixed \t\n\r\n whitespace \u00a0 nbsp',
  'caf\u00e9 vs cafe\u0301', 'e\u0301', 'A\u030a ring', 'n\u0303o\u0308', 'a\u0300\u0301\u0302\u0303 stacked',
  'Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３', 'Ａ\u0301', 'ﬁnance ﬂow ﬀ', '① ② ⑩ ⑳', '㍻ ㎏ ㎞ ℃ №', '½ ¼ ¾ x² H₂O',
  'Ⅻ ⅻ ™ ℡', '\u2460\u0301', 'ｶﾀｶﾅ ﾊﾟﾝ', '＜extra_id_0＞', '＜/s＞', '＜s＞ fullwidth specials',
  'zero\u200bwidth space', 'zero\u200cwidth non-joiner', 'join\u200der', '\ufeffBOM at start', 'BOM\ufeffinside',
  'soft\u00adhyphen', 'word\u2060joiner', 'bidi \u202eoverride\u202c mark', 'LRM\u200e RLM\u200f',
  'bell\u0007 and null\u0000 char', 'escape \u001b[31mred\u001b[0m', 'del\u007f char', 'C1 \u0085 next line',
  'vertical\u000btab form\u000cfeed', 'line\u2028separator para\u2029separator', 'x\u0001\u0002\u0003y',
  '\u0000', '\u200b', '\u200d', '\ufeff', '\u00ad',
  '😀', 'emoji 😀 and 🇫🇷 flags', '👩‍💻 coder', '👨‍👩‍👧‍👦 family', '🏳️‍🌈 flag', '👍🏽 skin tone', '❤️ heart',
  '🧑🏿‍🚀 astronaut', 'keycap 1️⃣ #️⃣', '🇺🇸🇬🇧🇯🇵', 'text😀text', '😀😀😀', '\u{1F9D1}\u200d\u{1F91D}\u200d\u{1F9D1}',
  '日本語のテキスト', '中文文本测试。', '한국어 텍스트', '한국어', 'ﾊﾝｶｸ', 'Ελληνικά κείμενο', 'Русский текст',
  'العربية نص', 'مرحبا بالعالم', 'עברית טקסט', 'שלום עולם', 'हिन्दी पाठ', 'ภาษาไทย', 'Tiếng Việt có dấu',
  'mixed English 日本 العربية עברית', 'ﷺ ligature', 'ǅ digraph', 'İstanbul ıi', 'Straße ß ẞ', 'ﬅ ﬆ',
  '12345', '3.14159', '1,000,000', '2024-01-01', '+1 (555) 123-4567', '٠١٢٣٤٥٦٧٨٩', '０１２３',
  'numbers 42 and 007', 'v1.2.3-beta+build.5',
  '<extra_id_0>', 'Translate <extra_id_0> please', 'a<extra_id_0>b', '<extra_id_0><extra_id_1>',
  ' <extra_id_99> ', 'sentinel <extra_id_0> and <extra_id_1> end', '</s>', '<s>', '<pad>', '<unk>',
  'end</s>', 'a <s> b', 'a<s>b', 'x </s> y', '<s> start', '<unk> token', 'text with <pad> inside',
  '<extra_id_', 'extra_id_0', '<<extra_id_0>>',
  '\u2581', '\u2581\u2581x', 'already\u2581escaped', '▁leading', 'trailing▁',
  'question: what is this? context: nothing.', 'sst2 sentence: it was great!', 'cola sentence: The book read.',
  '"double" \'single\' `back`', '“smart” ‘quotes’ „low“ «guillemets»', 'dash – em — minus −', 'ellipsis… …',
  'math ∑ ∫ √ ∞ ≠ ≤', 'arrows → ← ↔ ⇒', 'currency $ € £ ¥ ₹ ₿', '©®™ symbols', 'bullets • ◦ ▪',
  'http://example.com/path?q=1&r=2', 'user@example.com', '#hashtag @mention', 'C:\\path\\to\\file.txt',
  'snake_case camelCase kebab-case', 'ALL CAPS TEXT', 'MiXeD CaSe', 'repeated letters aaaaaaaaaaaa',
  'punctuation!!! ??? ...', '(parens) [brackets] {braces}', 'a+b=c; x*y/z', 'tab\tat\tevery\tword',
  '\u00e9\u00e8\u00ea\u00eb', 'ñ Ñ ç Ç', 'Å ø æ Ø', 'ŉ ŀ ĳ', 'ſ long s', 'µ micro vs μ mu', 'Ω ohm vs Ω omega',
  'K kelvin', 'Å angstrom', '\u0958 devanagari qa', '가\u11a8 jamo', '\u1100\u1161\u11a8',
  'x\u0308\u0301', 'q\u0323\u0307', 'ç\u0327', '\u0301 leading combining', 'trailing combining\u0301',
]

function tsvColumn(file, column, skipHeader, count) {
  const lines = fs.readFileSync(path.join(data, file), 'utf8').split('\n')
  const out = []
  for (const line of lines.slice(skipHeader ? 1 : 0)) {
    const fields = line.split('\t')
    if (fields.length > column && fields[column].trim() !== '') out.push(fields[column])
    if (out.length >= count) break
  }
  return out
}

function jsonlField(file, get, count) {
  const out = []
  for (const line of fs.readFileSync(path.join(data, file), 'utf8').split('\n')) {
    if (!line.trim()) continue
    const value = get(JSON.parse(line))
    if (value) out.push(value)
    if (out.length >= count) break
  }
  return out
}

// Sentences from the repo's GLUE/SuperGLUE files, long passages cut to 400 characters.
const cut = (s) => Array.from(s).slice(0, 400).join('')
const sentences = [
  ...tsvColumn('glue/CoLA/dev.tsv', 3, false, 25),
  ...tsvColumn('glue/SST-2/dev.tsv', 0, true, 25),
  ...tsvColumn('glue/MRPC/dev.tsv', 3, true, 15),
  ...tsvColumn('glue/MRPC/dev.tsv', 4, true, 10),
  ...tsvColumn('glue/QNLI/dev.tsv', 1, true, 10),
  ...tsvColumn('glue/QNLI/dev.tsv', 2, true, 10),
  ...tsvColumn('glue/RTE/dev.tsv', 1, true, 10),
  ...tsvColumn('glue/RTE/dev.tsv', 2, true, 10),
  ...tsvColumn('glue/STS-B/dev.tsv', 7, true, 15),
  ...jsonlField('superglue/BoolQ/val.jsonl', (r) => r.question, 10),
  ...jsonlField('superglue/BoolQ/val.jsonl', (r) => cut(r.passage), 5),
  ...jsonlField('superglue/CB/val.jsonl', (r) => r.premise, 10),
  ...jsonlField('superglue/COPA/val.jsonl', (r) => r.premise + ' ' + r.choice1, 10),
  ...jsonlField('superglue/WSC/train.jsonl', (r) => r.text, 10),
  ...jsonlField('superglue/MultiRC/val.jsonl', (r) => cut(r.passage.text), 3),
]

// Sentences again with the awkward parts mixed in, so edge cases also occur inside real text.
const variants = []
sentences.slice(0, 60).forEach((s, i) => {
  switch (i % 12) {
    case 0: variants.push(s.replace(/ /g, '\r\n')); break
    case 1: variants.push('  ' + s + '   '); break
    case 2: variants.push(s.replace(/ /g, '\t')); break
    case 3: variants.push(s.replace(/e/g, 'e\u0301')); break
    case 4: variants.push(s.replace(/ /g, ' \u200b')); break
    case 5: variants.push('\ufeff' + s); break
    case 6: variants.push(s.replace(/ /g, ' 👩‍💻 ')); break
    case 7: variants.push('summarize: ' + s + ' <extra_id_0>'); break
    case 8: variants.push(s.toUpperCase().replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))); break
    case 9: variants.push(s.replace(/ /g, '   ')); break
    case 10: variants.push(s + '\u0007\u0000'); break
    case 11: variants.push(s.replace(/ /g, '\u3000')); break
  }
})

const texts = [...edge, ...sentences, ...variants]

async function run(tokenizerPath, outName) {
  const tok = Tokenizer.fromFile(tokenizerPath)
  const lines = []
  for (const text of texts) {
    const enc = await tok.encode(text, null, { addSpecialTokens: false })
    const ids = Array.from(enc.getIds())
    const decoded = await tok.decode(ids, true)
    lines.push(JSON.stringify({ text, ids, decoded }))
  }
  fs.writeFileSync(path.join(here, outName), lines.join('\n') + '\n')
  console.log(`${outName}: ${lines.length} cases`)
}

async function main() {
  const llama = process.argv[2]
  if (!llama) throw new Error('usage: node gen_hf_cases.js /path/to/llama2-tokenizer.json')
  fs.writeFileSync(path.join(here, 'texts.json'), JSON.stringify(texts, null, 0) + '\n')
  await run(path.join(repo, 'testdata/models/t5-small-tokenizer/tokenizer.json'), 't5_cases.jsonl')
  await run(llama, 'llama2_json_cases.jsonl')
}

main().catch((err) => { console.error(err); process.exit(1) })
