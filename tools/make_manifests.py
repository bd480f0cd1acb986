#!/usr/bin/env python3
"""Writes the compact model manifests in resources/manifests/ from the full JSON manifests of the
golden data (tests/data/golden/manifests/*.json, tests/data/golden/manifests_sd/*.json and
lora_sd35_medium_like/real_swd_adapters.json).

SD 1.5 / SDXL: the UNets (diffusers names; SiD generators have the same names) and one VAE manifest for
both (the SD1.5 and SDXL VAEs have the same names and shapes: only their weights and scaling factors
differ), in the diffusers and the original single-file layout. Their CLIP-L and OpenCLIP bigG are the
SD3 manifests' clip_l / clip_g (same names and shapes; SD1.5's CLIP-L lacks the optional
text_projection): the script checks that and writes no duplicates.

One text file per model and weight layout, embedded into the program at build time
(cmake/EmbedManifests.cmake) and read by core/catalog/manifest.cpp. Format:

    # comment lines
    @key value                      header: id, model, kind, layout, name, prefix, params, source
    NAME SHAPE [?]                  one tensor: SHAPE is comma-separated ("-" for a scalar), "?" = optional

To keep the files small, tensors that differ only in their first numeric name component (the block
index) and have the same shape share one line: "transformer_blocks.{0-22,24}.attn.to_q.weight 1536,1536".

Usage: tools/make_manifests.py [--source DIR] [--source-sd DIR] [--lora JSON] [--out DIR] [--check]
--check exits 1 when the files in --out differ from what would be written (for CI / reviews).
"""

import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (json file, model id, kind, display name)
MODELS = [
    ("transformer_sd35_large.json", "sd35_large", "transformer", "SD3.5 Large transformer (MMDiT)"),
    ("transformer_sd35_medium.json", "sd35_medium", "transformer", "SD3.5 Medium transformer (MMDiT-X)"),
    ("transformer_sd3_medium.json", "sd3_medium", "transformer", "SD3 Medium transformer (MMDiT)"),
    ("vae_sd3.json", "sd3_vae", "vae", "SD3 VAE (16-channel AutoencoderKL)"),
    ("clip_l.json", "clip_l", "clip_l", "CLIP-L text encoder"),
    ("clip_g.json", "clip_g", "clip_g", "CLIP-G (OpenCLIP bigG) text encoder"),
    ("t5xxl.json", "t5xxl", "t5", "T5-XXL text encoder"),
]

LORA_MODELS = [
    ("sd35_medium", "swd_lora_sd35_medium", "SwD LoRA for SD3.5 Medium (yresearch/swd-medium-*)"),
    ("sd35_large", "swd_lora_sd35_large", "SwD LoRA for SD3.5 Large (yresearch/swd-large-*)"),
]

# SD 1.5 / SDXL (manifests_sd/): (json file, model id, kind, display name). The VAE is written from the
# SD1.5 file once sd_model_manifests has checked that the SDXL file lists the same tensors.
SD_MODELS = [
    ("unet_sd15.json", "sd15_unet", "unet", "SD 1.5 UNet"),
    ("unet_sdxl_base.json", "sdxl_unet", "unet", "SDXL base UNet"),
    ("vae_sd15.json", "sd_vae", "vae", "SD 1.5 / SDXL VAE (4-channel AutoencoderKL)"),
]
# SD files that must equal an SD3 manifest (json in manifests_sd/, json in manifests/).
SD_SHARED = [("vae_sdxl.json", "vae_sd15.json", "manifests_sd"), ("clip_l.json", "clip_l.json", "manifests"),
             ("clip_bigg.json", "clip_g.json", "manifests")]

SINGLE_FILE_PREFIX = {
    "transformer": "model.diffusion_model.",
    "vae": "first_stage_model.",
    "clip_l": "text_encoders.clip_l.transformer.",
    "clip_g": "text_encoders.clip_g.transformer.",
    "t5": "text_encoders.t5xxl.transformer.",
}

NUMERIC = re.compile(r"^\d+$")


def shape_text(shape):
    return ",".join(str(d) for d in shape) if shape else "-"


def ranges_text(indices):
    indices = sorted(indices)
    parts, start, prev = [], indices[0], indices[0]
    for i in indices[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(parts)


def fold(entries):
    """entries: list of (name, shape, optional) -> lines, folding the first numeric name component."""
    groups = {}  # (template, shape, optional) -> [indices]
    order = []
    plain = []
    for name, shape, optional in entries:
        parts = name.split(".")
        pos = next((i for i, p in enumerate(parts) if NUMERIC.match(p)), None)
        if pos is None:
            plain.append((name, shape, optional))
            order.append(("plain", len(plain) - 1))
            continue
        template = ".".join(parts[:pos] + ["{}"] + parts[pos + 1:])
        key = (template, tuple(shape), optional)
        if key not in groups:
            groups[key] = []
            order.append(("group", key))
        groups[key].append(int(parts[pos]))
    lines = []
    for what, key in order:
        if what == "plain":
            name, shape, optional = plain[key]
        else:
            template, shape, optional = key
            indices = groups[key]
            label = str(indices[0]) if len(indices) == 1 else "{" + ranges_text(indices) + "}"
            name = template.replace("{}", label, 1)
        lines.append(f"{name} {shape_text(shape)}{' ?' if optional else ''}")
    return lines


def expand(line_name):
    """Inverse of fold for one name (used by --check to prove the files round-trip)."""
    m = re.search(r"\{([0-9,\-]+)\}", line_name)
    if not m:
        return [line_name]
    out = []
    for part in m.group(1).split(","):
        lo, _, hi = part.partition("-")
        for i in range(int(lo), int(hi or lo) + 1):
            out.append(line_name[: m.start()] + str(i) + line_name[m.end():])
    return out


def header(fields):
    return [f"@{k} {v}" if v != "" else f"@{k}" for k, v in fields]


def write_manifest(out_dir, file_name, fields, entries, source_note):
    lines = [
        "# Generated by tools/make_manifests.py from " + source_note + "; do not edit.",
        "# NAME SHAPE [?]: '?' marks an optional tensor; {a-b,c} stands for each listed block index.",
    ]
    lines += header(fields)
    lines += fold(entries)
    text = "\n".join(lines) + "\n"
    # Round-trip check: expanding the folded lines gives back exactly the entries.
    got = {}
    for line in lines:
        if line.startswith("#") or line.startswith("@"):
            continue
        parts = line.split()
        for n in expand(parts[0]):
            got[n] = (parts[1], len(parts) > 2)
    want = {n: (shape_text(s), o) for n, s, o in entries}
    if got != want:
        raise SystemExit(f"{file_name}: folding does not round-trip")
    return file_name, text


def model_manifests(src_dir):
    outputs = []
    for json_name, model, kind, display in MODELS:
        path = os.path.join(src_dir, json_name)
        with open(path) as f:
            d = json.load(f)
        rel = os.path.relpath(path, ROOT)
        if kind in ("transformer", "vae"):
            entries = [(e["name"], e["shape"], False) for e in d["diffusers"]]
            outputs.append(write_manifest(None, f"{model}.diffusers.txt", [
                ("id", f"{model}.diffusers"), ("model", model), ("kind", kind), ("layout", "diffusers"),
                ("name", display), ("prefix", ""), ("params", d["total_params"])], entries, rel))
            prefix = SINGLE_FILE_PREFIX[kind]
            single = []
            for e in d["single_file"]["entries"]:
                name = e["original"]
                if name.startswith(prefix):
                    name = name[len(prefix):]
                single.append((name, e["shape"], False))
            outputs.append(write_manifest(None, f"{model}.single_file.txt", [
                ("id", f"{model}.single_file"), ("model", model), ("kind", kind), ("layout", "single_file"),
                ("name", display), ("prefix", prefix), ("params", d["total_params"])], single, rel))
        else:
            saved = set(d["saved_file_keys"])
            single_names = {e["diffusers"][0] for e in d["single_file"]["entries"]}
            # Optional: tied copies a saved file leaves out (T5's encoder.embed_tokens) and tensors the
            # single-file checkpoints lack (CLIP-L's text_projection: diffusers then uses the identity).
            entries = [(e["name"], e["shape"], e["name"] not in saved or e["name"] not in single_names)
                       for e in d["transformers"]]
            outputs.append(write_manifest(None, f"{model}.transformers.txt", [
                ("id", f"{model}.transformers"), ("model", model), ("kind", kind), ("layout", "transformers"),
                ("name", display), ("prefix", SINGLE_FILE_PREFIX[kind]), ("params", d["total_params"])],
                entries, rel))
    return outputs


def tensor_shapes(d):
    entries = d.get("diffusers") or d["transformers"]
    return {e["name"]: e["shape"] for e in entries}


def sd_model_manifests(sd_dir, sd3_dir):
    """The SD 1.5 / SDXL UNets and VAE; checks that the rest are the same as existing manifests."""
    for json_name, other, where in SD_SHARED:
        with open(os.path.join(sd_dir, json_name)) as f:
            a = tensor_shapes(json.load(f))
        with open(os.path.join(sd_dir if where == "manifests_sd" else sd3_dir, other)) as f:
            b = tensor_shapes(json.load(f))
        extra = set(b) - set(a)
        # SD1.5's CLIPTextModel has no text_projection: optional in clip_l's manifest.
        if any(a.get(n) != b.get(n) for n in a) or (extra and extra != {"text_projection.weight"}):
            raise SystemExit(f"{json_name}: not the same tensors as {other}; give it a manifest of its own")
    outputs = []
    for json_name, model, kind, display in SD_MODELS:
        path = os.path.join(sd_dir, json_name)
        with open(path) as f:
            d = json.load(f)
        rel = os.path.relpath(path, ROOT)
        entries = [(e["name"], e["shape"], False) for e in d["diffusers"]]
        outputs.append(write_manifest(None, f"{model}.diffusers.txt", [
            ("id", f"{model}.diffusers"), ("model", model), ("kind", kind), ("layout", "diffusers"),
            ("name", display), ("prefix", ""), ("params", d["total_params"])], entries, rel))
        if "single_file" not in d:
            continue  # the UNets' original (LDM / SGM) names are not in the golden manifests
        prefix = SINGLE_FILE_PREFIX[kind]
        single = [(e["original"][len(prefix):] if e["original"].startswith(prefix) else e["original"],
                   e["shape"], False) for e in d["single_file"]["entries"]]
        outputs.append(write_manifest(None, f"{model}.single_file.txt", [
            ("id", f"{model}.single_file"), ("model", model), ("kind", kind), ("layout", "single_file"),
            ("name", display), ("prefix", prefix), ("params", d["total_params"])], single, rel))
    return outputs


def lora_manifests(lora_json):
    outputs = []
    with open(lora_json) as f:
        d = json.load(f)
    rel = os.path.relpath(lora_json, ROOT)
    for model, out_name, display in LORA_MODELS:
        m = d["models"][model]
        prefix = "base_model.model."
        entries = []
        for name, shape in m["keys"].items():
            if not name.startswith(prefix):
                raise SystemExit(f"{lora_json}: unexpected key {name}")
            entries.append((name[len(prefix):], shape, False))
        outputs.append(write_manifest(None, f"{out_name}.peft.txt", [
            ("id", f"{out_name}.peft"), ("model", model), ("kind", "lora"), ("layout", "peft"),
            ("name", display), ("prefix", prefix), ("params", m["num_params"]),
            ("rank", m["lora"]["r"])], entries, rel))
    return outputs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default=os.path.join(ROOT, "tests/data/golden/manifests"))
    ap.add_argument("--source-sd", default=os.path.join(ROOT, "tests/data/golden/manifests_sd"))
    ap.add_argument("--lora", default=os.path.join(ROOT, "tests/data/golden/lora_sd35_medium_like/real_swd_adapters.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "resources/manifests"))
    ap.add_argument("--check", action="store_true", help="only compare with the files in --out")
    args = ap.parse_args()

    outputs = (model_manifests(args.source) + sd_model_manifests(args.source_sd, args.source) +
               lora_manifests(args.lora))
    stale = []
    os.makedirs(args.out, exist_ok=True)
    for name, text in outputs:
        path = os.path.join(args.out, name)
        old = open(path).read() if os.path.exists(path) else None
        if old == text:
            continue
        stale.append(name)
        if not args.check:
            with open(path, "w") as f:
                f.write(text)
    total = sum(len(t) for _, t in outputs)
    if args.check:
        if stale:
            print("out of date: " + ", ".join(stale))
            return 1
        print(f"{len(outputs)} manifests up to date ({total} bytes)")
        return 0
    print(f"wrote {len(stale)} of {len(outputs)} manifests to {args.out} ({total} bytes in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
