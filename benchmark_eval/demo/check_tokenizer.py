"""Print, as JSON, how a model folder's tokenizer encodes a chat: run in each environment.

usage: python check_tokenizer.py MODEL_DIR
"""

import json
import sys

from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
messages = [{"role": "user", "content": "What is 2 + 2?"}]
text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
print(json.dumps({
    "eos_token": tokenizer.eos_token,
    "text": text,
    "ids": tokenizer(text, add_special_tokens=False)["input_ids"],
    "plain_ids": tokenizer("Answer: C")["input_ids"],
}))
