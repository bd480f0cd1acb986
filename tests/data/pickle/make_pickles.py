#!/usr/bin/env python3
"""Writes the pickles of tests/data/pickle/ (hostile and edge cases for the restricted pickle reader) and
the fuzz seeds of tests/fuzz/corpus/pickle/. Needs only the standard library: the torch-shaped
pickles are written opcode by opcode (as torch 1.13 writes them: pickle.dump of a module, each storage a
legacy torch.save blob through torch.storage._load_from_bytes). Nothing here is ever unpickled.

    python3 tests/data/pickle/make_pickles.py
"""
import os
import pickle
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "fuzz", "corpus", "pickle")
TOUCHED = "/tmp/swd-pickle-test-must-not-exist"  # what the hostile pickles would create if run


class P:
    """A pickle written opcode by opcode."""

    def __init__(self, proto=4):
        self.b = bytearray()
        if proto is not None:
            self.b += bytes([0x80, proto])

    def op(self, code):
        self.b += code if isinstance(code, bytes) else bytes([code])
        return self

    def s(self, text):  # SHORT_BINUNICODE / BINUNICODE
        raw = text.encode()
        if len(raw) < 256:
            self.b += b"\x8c" + bytes([len(raw)]) + raw
        else:
            self.b += b"X" + struct.pack("<I", len(raw)) + raw
        return self

    def s2(self, text):  # protocol-2 BINUNICODE, as torch's legacy blobs write strings
        raw = text.encode()
        self.b += b"X" + struct.pack("<I", len(raw)) + raw
        return self

    def i(self, v):
        if 0 <= v < 256:
            self.b += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.b += b"M" + struct.pack("<H", v)
        else:
            self.b += b"J" + struct.pack("<i", v)
        return self

    def raw_bytes(self, data):
        self.b += b"B" + struct.pack("<I", len(data)) + data
        return self

    def glob(self, module, name):  # STACK_GLOBAL
        return self.s(module).s(name).op(0x93)

    def glob_text(self, module, name):  # GLOBAL
        self.b += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        return self

    def tup(self, n):
        return self.op({0: b")", 1: b"\x85", 2: b"\x86", 3: b"\x87"}[n])

    def stop(self):
        return bytes(self.b + b".")


MAGIC = bytes.fromhex("8a0a6cfc9c46f9206aa85019")  # LONG1 10 bytes: 0x1950a86a20f9469cfc6c


def legacy_blob(storage_type, key, values, fmt="f", numel=None, extra_storage_pickle=None):
    """torch.save(storage) in the legacy format, as torch.storage._load_from_bytes reads it."""
    numel = len(values) if numel is None else numel
    out = bytearray()
    out += b"\x80\x02" + MAGIC + b"."
    out += b"\x80\x02M\xe9\x03."  # protocol 1001
    sysinfo = P(2).op(b"}").op(b"(").s2("protocol_version").op(b"M\xe9\x03").s2("little_endian").op(0x88)
    sysinfo.s2("type_sizes").op(b"}").op(b"(").s2("short").i(2).s2("int").i(4).s2("long").i(4).op(b"u").op(b"u")
    out += sysinfo.stop()
    if extra_storage_pickle is not None:
        out += extra_storage_pickle
    else:
        sp = P(2).op(b"(").s2("storage").glob_text("torch", storage_type).s2(key).s2("cpu").i(numel).op(b"N")
        out += sp.op(b"t").op(b"Q").stop()
    out += P(2).op(b"]").s2(key).op(b"a").stop()
    out += struct.pack("<q", len(values)) + struct.pack("<%d%s" % (len(values), fmt), *values)
    return bytes(out)


def tensor(p, blob, offset, size, stride, parameter=True):
    """_rebuild_parameter(_rebuild_tensor_v2(_load_from_bytes(blob), offset, size, stride, False,
    OrderedDict()), True, OrderedDict()) onto the stack."""
    if parameter:
        p.glob("torch._utils", "_rebuild_parameter")
    p.glob("torch._utils", "_rebuild_tensor_v2").op(b"(")
    p.glob("torch.storage", "_load_from_bytes").raw_bytes(blob).tup(1).op(b"R")
    p.i(offset)
    p.op(b"(")
    for d in size:
        p.i(d)
    p.op(b"t").op(b"(")
    for d in stride:
        p.i(d)
    p.op(b"t").op(0x89).glob("collections", "OrderedDict").tup(0).op(b"R").op(b"t").op(b"R")
    if parameter:
        p.op(0x88).glob("collections", "OrderedDict").tup(0).op(b"R").tup(3).op(b"R")
    return p


def module(p, cls_module, cls_name, params, buffers=(), non_persistent=(), children=()):
    """A torch module as pickle.dump writes it: NEWOBJ of its class, BUILD with its __dict__."""
    p.glob(cls_module, cls_name).tup(0).op(0x81).op(b"}").op(b"(")
    p.s("training").op(0x89)
    for field, entries in (("_parameters", params), ("_buffers", buffers)):
        p.s(field).glob("collections", "OrderedDict").tup(0).op(b"R")
        if entries:
            p.op(b"(")
            for name, emit in entries:
                p.s(name)
                emit(p)
            p.op(b"u")
    p.s("_non_persistent_buffers_set").op(0x8f)
    if non_persistent:
        p.op(b"(")
        for n in non_persistent:
            p.s(n)
        p.op(0x90)
    p.s("_modules").glob("collections", "OrderedDict").tup(0).op(b"R")
    if children:
        p.op(b"(")
        for name, emit in children:
            p.s(name)
            emit(p)
        p.op(b"u")
    return p.op(b"u").op(b"b")


def none(p):
    return p.op(b"N")


def tiny_module(key="ema", half=False):
    st, fmt = ("HalfStorage", "e") if half else ("FloatStorage", "f")
    w = legacy_blob(st, "1001", [0.5, -1.0, 2.0, 0.25, 3.0, -0.125], fmt)
    b = legacy_blob(st, "1002", [1.0, 2.0], fmt)
    buf = legacy_blob(st, "1003", [7.0, 8.0, 9.0], fmt)
    child = lambda p: module(p, "torch.nn.modules.linear", "Linear",
                             [("weight", lambda q: tensor(q, w, 0, (3, 2), (1, 3))),  # a transposed view
                              ("bias", none)],
                             buffers=[("running", lambda q: tensor(q, buf, 1, (2,), (1,), parameter=False)),
                                      ("scratch", lambda q: tensor(q, buf, 0, (1,), (1,), parameter=False))],
                             non_persistent=["scratch"])
    p = P(4).op(b"}").s(key)
    module(p, "diffusers.models.tiny", "TinyNet",
           [("bias", lambda q: tensor(q, b, 0, (2,), (1,)))],
           children=[("proj", child), ("skipped", none)])
    return p.op(b"s").stop()


def view_outside():
    blob = legacy_blob("FloatStorage", "7", [1.0, 2.0, 3.0, 4.0])
    p = P(4).op(b"}").s("w")
    tensor(p, blob, 2, (2, 2), (2, 1), parameter=False)  # reaches element 2 + 2 + 1 = 5 of 4
    return p.op(b"s").stop()


def nested_blob_bomb(levels=4):
    """A storage blob whose storage pickle is another _load_from_bytes, several levels deep."""
    inner = legacy_blob("FloatStorage", "1", [1.0])
    for _ in range(levels):
        sp = P(2).glob_text("torch.storage", "_load_from_bytes").raw_bytes(inner).tup(1).op(b"R").stop()
        inner = legacy_blob("FloatStorage", "1", [1.0], extra_storage_pickle=sp)
    p = P(4).op(b"}").s("w")
    tensor(p, inner, 0, (1,), (1,), parameter=False)
    return p.op(b"s").stop()


class Reduce:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def hostile():
    cmd = "touch " + TOUCHED
    files = {}
    files["os_system.pkl"] = P(2).glob_text("os", "system").s2(cmd).tup(1).op(b"R").stop()
    files["posix_system.pkl"] = pickle.dumps(Reduce(os.system, cmd), protocol=4)  # pickle names it posix.system
    files["eval_stack_global.pkl"] = pickle.dumps(Reduce(eval, "__import__('os').system(%r)" % cmd), protocol=4)
    files["subprocess_in_dict.pkl"] = P(4).op(b"}").s("ema").glob("subprocess", "check_call").s("touch").s(
        TOUCHED).tup(2).tup(1).op(b"R").op(b"s").stop()
    files["unknown_class.pkl"] = P(4).op(b"}").s("ema").glob("transformers.models.clip.modeling_clip",
                                                             "CLIPTextModel").tup(0).op(0x81).op(b"s").stop()
    files["view_outside_storage.pkl"] = view_outside()
    whole = tiny_module()
    files["truncated.pkl"] = whole[: len(whole) * 2 // 3]
    files["memo_out_of_range.pkl"] = P(4).op(b"}").op(0x94).s("ema").op(b"h\x05").op(b"s").stop()
    files["deep_nesting.pkl"] = bytes(P(4).b + b"(" * 100000 + b"N.")
    files["nested_blob_bomb.pkl"] = nested_blob_bomb()
    files["oversized_length.pkl"] = bytes(P(4).b + b"\x8e" + struct.pack("<Q", 1 << 62) + b"abc.")
    files["tiny_module.pkl"] = whole
    files["tiny_module_G_fp16.pkl"] = tiny_module("G", half=True)
    return files


def main():
    files = hostile()
    for name, data in files.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    os.makedirs(CORPUS, exist_ok=True)
    seeds = {"tiny_module": files["tiny_module.pkl"], "tiny_module_G_fp16": files["tiny_module_G_fp16.pkl"],
             "view_outside_storage": files["view_outside_storage.pkl"],
             "nested_blob_bomb": files["nested_blob_bomb.pkl"], "memo": files["memo_out_of_range.pkl"],
             "deep_nesting": files["deep_nesting.pkl"], "os_system": files["os_system.pkl"]}
    for name, data in seeds.items():
        with open(os.path.join(CORPUS, name), "wb") as f:
            f.write(data)
    print("wrote %d pickles and %d seeds" % (len(files), len(seeds)), file=sys.stderr)


if __name__ == "__main__":
    main()
