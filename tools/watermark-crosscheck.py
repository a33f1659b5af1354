"""Cross-check of modelward's watermark test against Hugging Face Transformers.

Run by tools/watermark-crosscheck.sh in a virtualenv with torch and transformers. Nothing is
downloaded: the text is made here from pseudo-words, the tokenizer is trained on it here, and
the model is a tiny randomly initialised GPT-2. Writes FIXTURES/tokenizer.json and
FIXTURES/cases.json: for each case its WatermarkingConfig, and for each text the text,
its token ids as the tokenizer gives them back, and what Transformers' WatermarkDetector
reports on those ids.
"""

import json
import random
import sys
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    WatermarkDetector,
    WatermarkingConfig,
)

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = random.Random(18)

# Text made here: pseudo-words from syllables, in sentences.
syllables = ["ka", "lo", "mi", "ren", "tu", "sa", "ve", "dor", "in", "pa", "ql", "zu", "ho", "ne", "bri", "st"]
words = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(900)})
def sentence():
    return " ".join(rng.choice(words) for _ in range(rng.randint(5, 14))).capitalize() + rng.choice([".", "!", "?", ","])
corpus = [" ".join(sentence() for _ in range(6)) for _ in range(3000)]

tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=1500,
    special_tokens=["<|endoftext|>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tokenizer.train_from_iterator(corpus, trainer)
tokenizer.save(str(out / "tokenizer.json"))
vocab = tokenizer.get_vocab_size()
eos = tokenizer.token_to_id("<|endoftext|>")

torch.manual_seed(18)
config = GPT2Config(
    vocab_size=vocab, n_positions=256, n_embd=64, n_layer=2, n_head=2, bos_token_id=eos, eos_token_id=eos
)
model = GPT2LMHeadModel(config).eval()

CASES = [
    # name, WatermarkingConfig arguments, texts, new tokens, ignore_repeated_ngrams
    ("lefthash-default", dict(bias=2.0), 6, 80, False),
    ("lefthash-width2-key", dict(bias=2.0, hashing_key=2**40 + 7, greenlist_ratio=0.4, context_width=2), 4, 80, False),
    ("selfhash-width3", dict(bias=8.0, seeding_scheme="selfhash", context_width=3, hashing_key=987654321), 4, 60, False),
    ("selfhash-width1-ratio05", dict(bias=8.0, seeding_scheme="selfhash", context_width=1, greenlist_ratio=0.5), 3, 60, False),
    ("lefthash-ignore-repeated", dict(bias=2.0), 3, 80, True),
    ("weak-bias-many", dict(bias=0.7), 50, 60, False),
]

def prompt_ids():
    return tokenizer.encode(sentence(), add_special_tokens=False).ids[:8]

cases = []
for name, wm_args, n_texts, new_tokens, ignore in CASES:
    wm = WatermarkingConfig(**wm_args)
    detector = WatermarkDetector(
        model_config=model.config, device="cpu", watermarking_config=wm, ignore_repeated_ngrams=ignore
    )
    texts = []
    for i in range(n_texts):
        for marked in (True, False):
            if not marked and name == "weak-bias-many" and i >= 5:
                continue
            prompt = torch.tensor([prompt_ids()])
            torch.manual_seed(1000 * len(cases) + 2 * i + marked)
            generated = model.generate(
                prompt,
                do_sample=True,
                top_k=0,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                pad_token_id=eos,
                watermarking_config=wm if marked else None,
            )[0, prompt.shape[1]:].tolist()
            text = tokenizer.decode(generated, skip_special_tokens=True)
            ids = tokenizer.encode(text, add_special_tokens=False).ids
            if len(ids) <= wm.context_width:
                continue
            d = detector(torch.tensor([ids]), return_dict=True)
            texts.append({
                "watermarked": marked,
                "text": text,
                "ids": ids,
                "ids_as_generated": ids == generated,
                "num_tokens_scored": int(d.num_tokens_scored[0]),
                "num_green_tokens": int(d.num_green_tokens[0]),
                "z_score": float(d.z_score[0]),
                "p_value": float(d.p_value[0]),
            })
    cases.append({
        "name": name,
        "watermarking_config": {k: v for k, v in wm.to_dict().items() if k in (
            "greenlist_ratio", "bias", "hashing_key", "seeding_scheme", "context_width")},
        "ignore_repeated_ngrams": ignore,
        "vocab_size": vocab,
        "bos_token_id": eos,
        "texts": texts,
    })
    print(name, [round(t["z_score"], 2) for t in texts if t["watermarked"]][:8],
          [round(t["z_score"], 2) for t in texts if not t["watermarked"]][:8], file=sys.stderr)

json.dump({
    "made_by": "tools/watermark-crosscheck.sh",
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "cases": cases,
}, open(out / "cases.json", "w"), indent=1)
