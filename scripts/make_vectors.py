#!/usr/bin/env python3
"""Writes tests/data/python-identity-extra.jsonl: identity vectors computed by Python itself.

Python is the oracle for the C++ identity code: every line holds a name, its arguments, and what the
Python reference computes for them, json.dumps(arguments) and md5(name + json.dumps(arguments)). The
cases stress what the general vectors touch only lightly: float repr at every layout boundary, random
bit-pattern doubles, subnormals, every string escape class, 64-bit integer limits, deep nesting and
non-ASCII names.

NaN and the infinities have no JSON spelling, so a line with "nonfinite_markers": true carries them in
"arguments" as the strings "$NaN", "$Infinity" and "$-Infinity"; the C++ test puts the floats back before
rendering. "dumps" and "hash" are always computed from the real floats.

Standard library only and a fixed seed, so the output is the same on every run:

    python3 scripts/make_vectors.py            # rewrites tests/data/python-identity-extra.jsonl
    python3 scripts/make_vectors.py --check    # exits 1 if the committed file differs
"""

import argparse
import hashlib
import json
import math
import pathlib
import random
import struct
import sys

SEED = 20240521
OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "python-identity-extra.jsonl"
MARKERS = {"NaN": "$NaN", "Infinity": "$Infinity", "-Infinity": "$-Infinity"}


def double_from_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def encode_nonfinite(value):
    """Replaces NaN and infinities by marker strings; returns (encoded, whether any was replaced)."""
    if isinstance(value, float) and not math.isfinite(value):
        key = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return MARKERS[key], True
    if isinstance(value, dict):
        out, found = {}, False
        for k, v in value.items():
            out[k], f = encode_nonfinite(v)
            found = found or f
        return out, found
    if isinstance(value, list):
        out, found = [], False
        for v in value:
            e, f = encode_nonfinite(v)
            out.append(e)
            found = found or f
        return out, found
    return value, False


def case(name, arguments, note):
    text = json.dumps(arguments)
    line = {"note": note, "name": name}
    encoded, nonfinite = encode_nonfinite(arguments)
    line["arguments"] = encoded
    if nonfinite:
        line["nonfinite_markers"] = True
    line["dumps"] = text
    line["hash"] = hashlib.md5((name + text).encode("utf-8")).hexdigest()
    # The file itself must be strict JSON for the C++ reader: allow_nan=False proves no NaN leaked.
    return json.dumps(line, allow_nan=False)


def float_cases(rng):
    values = []
    # Random doubles over the whole bit space: every exponent and digit count.
    while len(values) < 200:
        value = double_from_bits(rng.getrandbits(64))
        if math.isfinite(value):
            values.append(("random bits", value))
    # Random doubles of ordinary magnitude, where most real arguments live.
    for _ in range(60):
        values.append(("random magnitude", rng.uniform(-1, 1) * 10.0 ** rng.randint(-8, 20)))
    # Subnormals and the normal/subnormal boundary.
    for bits in [1, 2, 3, 0x000FFFFFFFFFFFFF, 0x0010000000000000, 0x0008000000000000]:
        values.append(("subnormal boundary", double_from_bits(bits)))
        values.append(("subnormal boundary", -double_from_bits(bits)))
    for _ in range(20):
        values.append(("random subnormal", double_from_bits(rng.getrandbits(52))))
    # Powers of ten and their neighbours, around both layout switches (1e-4/1e-5 and 1e15/1e16) and beyond.
    for exponent in range(-8, 24):
        power = float(f"1e{exponent}")
        for value in (power, math.nextafter(power, 0.0), math.nextafter(power, math.inf)):
            values.append(("power of ten", value))
    for text in ["0.0001", "0.00010000000000000002", "9.999999999999999e-05", "1e-05", "0.00001234",
                 "0.000123", "9999999999999998.0", "1e16", "10000000000000002.0", "1.2345678901234568e+16",
                 "999999999999999.9", "123456789012345.67", "1234567890123456.8", "5e-324",
                 "2.2250738585072014e-308", "1.7976931348623157e+308"]:
        values.append(("layout boundary", float(text)))
    # Classic rounding cases and integral floats.
    for value in [0.1 + 0.2, 1 / 3, 2 / 3, 0.1, 0.2, 0.3, 1.1, 2.675, 1e23, 9007199254740993.0,
                  2.0 ** 52, 2.0 ** 53, 2.0 ** 53 + 2, 2.0 ** 63, 2.0 ** 64, 2.0 ** 100, 1e22, 100.0,
                  123456789.0, 0.0, -0.0, 1.0, -1.0, 0.5, 1.5e300, 4.35, 0.07, 1e-7, 3.14159]:
        values.append(("classic", value))
        values.append(("classic", -value))
    return values


def string_cases():
    strings = []
    for code in range(0x20):
        strings.append((f"control U+{code:04X}", chr(code)))
    strings.append(("all controls", "".join(chr(c) for c in range(0x20))))
    strings.append(("all printable ASCII", "".join(chr(c) for c in range(0x20, 0x7F))))
    for code in [0x7F, 0x80, 0x9F, 0xA0, 0xFF, 0x100, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFEFF,
                 0xFFFD, 0xFFFE, 0xFFFF, 0x2028, 0x2029, 0x10000, 0x1F600, 0xFFFFF, 0x100000, 0x10FFFF]:
        strings.append((f"code point U+{code:04X}", chr(code)))
    strings.append(("quote backslash slash", '"\\/'))
    strings.append(("mixed escapes", 'a"b\\c/d\ne\rf\tg\bh\fi\x00j\x7fk\u00e9l\u2028m\U0001F600n'))
    strings.append(("empty", ""))
    strings.append(("long ASCII", "abcdefghij" * 50))
    strings.append(("long mixed", ("x\u00e9\u4e2d\U0001F600\n" * 40)))
    return strings


def nested_list(depth, leaf):
    value = leaf
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_dict(depth, leaf):
    value = leaf
    for level in range(depth - 1):
        value = {f"k{level % 7}": value}
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead")
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT)
    options = parser.parse_args()

    rng = random.Random(SEED)
    lines = []
    for note, value in float_cases(rng):
        lines.append(case("F", {"v": value}, f"float {note}: {value!r}"))
    # Several floats in one object and in arrays, so separators and order interact with the float layout.
    for _ in range(20):
        picks = [double_from_bits(rng.getrandbits(64)) for _ in range(5)]
        picks = [p if math.isfinite(p) else 1.0 for p in picks]
        lines.append(case("Floats", {"lr": picks[0], "betas": picks[1:3], "eps": {"value": picks[3]},
                                     "momentum": picks[4]}, "floats in containers"))

    nonfinite = [("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)]
    for note, value in nonfinite:
        lines.append(case("Special", {"v": value}, f"non-finite {note}"))
    lines.append(case("Special", {"values": [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e16],
                                  "nested": {"x": [math.inf]}}, "non-finite mixed"))

    for value, note in [(-(2 ** 63), "int64 min"), (2 ** 63 - 1, "int64 max"), (2 ** 63, "int64 max + 1"),
                        (2 ** 64 - 1, "uint64 max"), (2 ** 53 + 1, "2**53 + 1"), (0, "zero"), (-1, "minus one"),
                        (-(2 ** 31), "int32 min"), (2 ** 32, "2**32")]:
        lines.append(case("I", {"v": value}, f"integer {note}"))
    lines.append(case("I", {"v": [-(2 ** 63), 2 ** 63 - 1, 2 ** 64 - 1, True, False, None]},
                      "integer limits with booleans and null"))

    for note, text in string_cases():
        lines.append(case("S", {"v": text}, f"string {note}"))
        lines.append(case("S", {text: 1}, f"key {note}"))
        lines.append(case(text, {}, f"name {note}"))

    for depth in [1, 2, 10, 100, 499, 500]:
        lines.append(case("Deep", {"v": nested_list(depth, 1)}, f"nested lists depth {depth}"))
        lines.append(case("Deep", nested_dict(depth, {}), f"nested objects depth {depth}"))
    lines.append(case("Deep", {"v": nested_list(400, {"a": nested_list(90, [0.5, "\u00e9"])})},
                      "nested mixed"))

    for name in ["\u00c9tude", "\u4e2d\u6587\u6a21\u578b", "\U0001F600Model", "\u0391\u03b2\u03b3",
                 "Mod\u00e8le-\u00e9", "na\u00efve_bayes", "\u05e9\u05dc\u05d5\u05dd", "\U0001D518\U0001D52B",
                 "Model with spaces", "Model/with/slashes", "ends with newline\n"]:
        lines.append(case(name, {"x": 1, "y": 2.0, "z": "3"}, f"unicode name {name!r}"))

    # Key order must be kept as inserted, not sorted.
    lines.append(case("Order", {"z": 1, "a": 2, "m": 3, "b": {"y": 1, "x": 2}}, "insertion order"))

    text = "\n".join(lines) + "\n"
    if options.check:
        current = options.output.read_text(encoding="utf-8") if options.output.exists() else ""
        if current != text:
            print(f"{options.output} is out of date; run {sys.argv[0]}", file=sys.stderr)
            return 1
        print(f"{options.output} is up to date ({len(lines)} cases)")
        return 0
    options.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(lines)} cases to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
