"""Writes .npy, .npz and CSV files with NumPy and Python's csv module, and a manifest of what reading
each must give.

    make_numpy_files.py OUTDIR
    make_numpy_files.py OUTDIR --fashion-mnist ROOT    # only fashion.npz, from ROOT's IDX files

Each manifest entry: {"file", "member" (an .npz array, or null), "dtype" (the tensor's, as LibTorch names
it), "shape", "values" (C order, flat)} for a file the reader must read, or {"file", "member", "error"}
(a part of the message) for one it must refuse.
"""
import csv
import gzip
import hashlib
import json
import os
import sys
import zipfile

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def idx(path, offset):
    with gzip.open(path) as file:
        return np.frombuffer(file.read(), dtype=np.uint8, offset=offset)


if len(sys.argv) == 4 and sys.argv[2] == "--fashion-mnist":
    # Fashion-MNIST as a user would keep it: float32 features in [0, 1], int64 labels, stored (numpy.savez).
    root = sys.argv[3]
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = idx(os.path.join(root, prefix + "-images-idx3-ubyte.gz"), 16).reshape(-1, 784)
        arrays["x_" + split] = images.astype(np.float32) / np.float32(255)
        arrays["y_" + split] = idx(os.path.join(root, prefix + "-labels-idx1-ubyte.gz"), 8).astype(np.int64)
    np.savez(os.path.join(out, "fashion.npz"), **arrays)
    sys.exit(0)

manifest = []
rng = np.random.default_rng(7)


def expect(name, array, dtype, member=None):
    manifest.append({"file": name, "member": member, "dtype": dtype, "shape": list(array.shape),
                     "values": np.ascontiguousarray(array).reshape(-1).astype(np.float64).tolist()})


def refuse(name, error, member=None):
    manifest.append({"file": name, "member": member, "error": error})


def save(name, array, version=None):
    with open(os.path.join(out, name), "wb") as file:
        if version is None:
            np.save(file, array)
        else:
            np.lib.format.write_array(file, array, version=version)


cases = {
    "f4": (rng.standard_normal((3, 4)).astype("<f4"), "Float"),
    "f8": (rng.standard_normal((2, 3)).astype("<f8"), "Double"),
    "f2": (np.array([0.5, -2.0, 65504.0], dtype="<f2"), "Half"),
    "u1": (rng.integers(0, 256, (2, 2, 2)).astype("u1"), "Byte"),
    "i1": (np.array([-128, 0, 127], dtype="i1"), "Char"),
    "i2": (np.array([-32768, 1, 32767], dtype="<i2"), "Short"),
    "i4": (np.array([[-2**31, 5], [7, 2**31 - 1]], dtype="<i4"), "Int"),
    "i8": (np.array([-2**63, 3, 2**63 - 1], dtype="<i8"), "Long"),
    "u2": (np.array([0, 1, 65535], dtype="<u2"), "Int"),
    "u4": (np.array([0, 7, 2**32 - 1], dtype="<u4"), "Long"),
    "u8": (np.array([0, 2**63 - 1], dtype="<u8"), "Long"),
    "b1": (np.array([True, False, True]), "Bool"),
    "big_f4": (rng.standard_normal((2, 3)).astype(">f4"), "Float"),
    "big_i8": (np.array([-5, 2**40, 9], dtype=">i8"), "Long"),
    "big_u2": (np.array([1, 65535], dtype=">u2"), "Int"),
    "fortran": (np.asfortranarray(rng.standard_normal((3, 4, 2)).astype("<f4")), "Float"),
    "scalar": (np.array(3.5, dtype="<f8"), "Double"),
    "empty": (np.zeros((0, 4), dtype="<f4"), "Float"),
    "images": (rng.integers(0, 256, (5, 1, 4, 4)).astype("u1"), "Byte"),
}
for name, (array, dtype) in cases.items():
    save(name + ".npy", array)
    expect(name + ".npy", array, dtype)
for version in [(1, 0), (2, 0), (3, 0)]:
    name = "version%d.npy" % version[0]
    save(name, cases["f4"][0], version)
    expect(name, cases["f4"][0], "Float")

# Archives: stored and deflated, read by member.
arrays = {"x_train": cases["images"][0], "y_train": np.array([0, 2, 1, 1, 0], dtype="<i8"),
          "x_test": cases["f4"][0], "y_test": cases["u2"][0]}
np.savez(os.path.join(out, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(out, "deflated.npz"), **arrays)
for archive in ["stored.npz", "deflated.npz"]:
    for member, array in arrays.items():
        expect(archive, array, {"u1": "Byte", "i8": "Long", "f4": "Float", "u2": "Int"}[array.dtype.str[1:]], member)
refuse("stored.npz", 'has no array "x_valid" (its arrays: x_train, y_train, x_test, y_test)', "x_valid")

# What a tensor cannot hold, refused with the dtype.
save("objects.npy", np.array([{"a": 1}, None], dtype=object))
refuse("objects.npy", "its dtype '|O' is an object (Python objects, pickled)")
save("strings.npy", np.array(["ab", "c"]))
refuse("strings.npy", "its dtype '<U2' is a string")
save("complex.npy", np.array([1 + 2j], dtype="<c8"))
refuse("complex.npy", "its dtype '<c8' is complex")
save("dates.npy", np.array(["2026-12-07"], dtype="datetime64[D]"))
refuse("dates.npy", "its dtype '<M8[D]' is a date or time")
save("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
refuse("structured.npy", "its dtype is structured (named fields), not a number")
save("u8_beyond.npy", np.array([2**63], dtype="<u8"))
refuse("u8_beyond.npy", "a uint64 value is beyond int64")
np.savez(os.path.join(out, "with_objects.npz"), x_train=np.array([None, 1], dtype=object))
refuse("with_objects.npz", "array \"x_train\": its dtype '|O' is an object", "x_train")

# Damaged files: named, never read past what they hold.
whole = open(os.path.join(out, "f4.npy"), "rb").read()
with open(os.path.join(out, "truncated.npy"), "wb") as file:
    file.write(whole[:-5])
refuse("truncated.npy", "truncated")
with open(os.path.join(out, "trailing.npy"), "wb") as file:
    file.write(whole + b"\0\0\0\0")
refuse("trailing.npy", "bytes after the array")
with open(os.path.join(out, "not_numpy.npy"), "wb") as file:
    file.write(b"PK\3\4 not an array at all")
refuse("not_numpy.npy", "not a .npy array")
with open(os.path.join(out, "huge_shape.npy"), "wb") as file:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000, 1000), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    file.write(b"\x93NUMPY\1\0" + len(header).to_bytes(2, "little") + header)
refuse("huge_shape.npy", "its shape holds more elements than memory could")
with open(os.path.join(out, "lying_header.npy"), "wb") as file:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    file.write(b"\x93NUMPY\1\0" + len(header).to_bytes(2, "little") + header + b"\0" * 16)
refuse("lying_header.npy", "holds 16 bytes of data, its header announces 4000000000 (truncated)")
with open(os.path.join(out, "bad_header.npy"), "wb") as file:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    file.write(b"\x93NUMPY\1\0" + len(header).to_bytes(2, "little") + header + b"\0" * 16)
refuse("bad_header.npy", "the key 'extra', which is not descr, fortran_order or shape")
# A deflated member that announces more than deflate can make of its bytes: a zip bomb's header.
with zipfile.ZipFile(os.path.join(out, "bomb.npz"), "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr("x_train.npy", whole)
data = bytearray(open(os.path.join(out, "bomb.npz"), "rb").read())
central = data.rfind(b"PK\1\2")
data[central + 24:central + 28] = (2**31).to_bytes(4, "little")  # the uncompressed size, in both headers
data[22:26] = (2**31).to_bytes(4, "little")
open(os.path.join(out, "bomb.npz"), "wb").write(bytes(data))
refuse("bomb.npz", "more than deflate can expand them to", "x_train")
refuse("missing.npy", "cannot open")

# Data sets to train on: three well separated classes in 8 float64 features (an .npz), the same as uint8
# .npy pairs, and the faults a user's data may have, each in an archive of its own.
def blobs(count, seed):
    generator = np.random.default_rng(seed)
    labels = generator.integers(0, 3, count)
    centers = np.array([[0.2] * 8, [0.5] * 8, [0.8] * 8])
    return centers[labels] + generator.normal(0, 0.04, (count, 8)), labels.astype("<i4")


x_train, y_train = blobs(600, 1)
x_test, y_test = blobs(200, 2)
np.savez(os.path.join(out, "blobs.npz"), x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
for name, array in {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}.items():
    np.save(os.path.join(out, "blobs_%s.npy" % name), (array * 255).round().astype("u1") if name[0] == "x" else array)
faults = {
    "lengths": dict(y_train=y_train[:-1]),
    "label": dict(y_test=np.where(np.arange(200) == 17, 3, y_test)),
    "negative": dict(y_train=np.where(np.arange(600) == 5, -1, y_train)),
    "nan": dict(x_train=np.where(np.arange(600)[:, None] == 9, np.nan, x_train)),
    "empty": dict(x_test=x_test[:0], y_test=y_test[:0]),
    "float_labels": dict(y_train=y_train.astype("<f4")),
    "strings": dict(x_test=x_test.astype("U8")),
}
for fault, changed in faults.items():
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    arrays.update(changed)
    np.savez(os.path.join(out, "fault_%s.npz" % fault), **arrays)
np.savez(os.path.join(out, "fault_missing.npz"), x_train=x_train, y_train=y_train, x_test=x_test)

# A regression: y = a.x + b + noise of variance 0.01, as CSV written by Python's csv module (CRLF line
# ends, its default) and as an .npz archive with y of shape [N].
def linear(count, seed):
    generator = np.random.default_rng(seed)
    x = generator.uniform(-1, 1, (count, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + generator.normal(0, 0.1, count)
    return x, y


def write_csv(name, header, rows, **options):
    with open(os.path.join(out, name), "w", newline="") as file:
        writer = csv.writer(file, **options)
        writer.writerow(header)
        writer.writerows(rows)


digests = {}
for split, (x, y) in (("train", linear(2000, 3)), ("test", linear(500, 4))):
    write_csv("regression_%s.csv" % split, ["x1", "x2", "x3", "y"], np.column_stack([x, y]).tolist())
    digests["regression_%s.csv" % split] = hashlib.sha256(open(os.path.join(out, "regression_%s.csv" % split), "rb").read()).hexdigest()
(x_train_r, y_train_r), (x_test_r, y_test_r) = linear(2000, 5), linear(500, 6)
np.savez(os.path.join(out, "regression.npz"), x_train=x_train_r, y_train=y_train_r, x_test=x_test_r, y_test=y_test_r)

# The blobs as CSV: the label in the middle column, every field quoted, ';' between fields.
for split, (x, y) in (("train", (x_train, y_train)), ("test", (x_test, y_test))):
    rows = [list(row[:4]) + [int(label)] + list(row[4:]) for row, label in zip(x.tolist(), y)]
    write_csv("blobs_%s.csv" % split, ["f1", "f2", "f3", "f4", "label", "f5", "f6", "f7", "f8"], rows,
              delimiter=";", quoting=csv.QUOTE_ALL)

# What the CSV reader must read, cell for cell: quoted numbers, spaces, signs, exponents, an embedded
# line end in a quoted header name, LF line ends and blank lines, values as Python's float reads them.
quirks = 'a,"b\nnext",t\n" 1.5 ",+2,0\n\n-3e-2, 4 ,"1"\n1E+3,.5,2\n\n'
with open(os.path.join(out, "quirks.csv"), "w", newline="") as file:
    file.write(quirks)
csv_manifest = [{"file": "quirks.csv", "target": "t", "features": [[1.5, 2.0], [-0.03, 4.0], [1000.0, 0.5]],
                 "target_values": [0.0, 1.0, 2.0], "lines": [3, 5, 6], "columns": ["a", "b\nnext"]}]


def csv_fault(name, text, error, target="y", delimiter=","):
    with open(os.path.join(out, name), "w", newline="") as file:
        file.write(text)
    csv_manifest.append({"file": name, "target": target, "delimiter": delimiter, "error": error})


csv_fault("not_number.csv", "x1,x2,y\r\n1,2,0\r\n3,abc,1\r\n", 'line 3, column 2 ("x2"): "abc" is not a number')
csv_fault("empty_cell.csv", "x1,x2,y\n1,2,0\n\n1,,1\n", 'line 4, column 2 ("x2"): the cell is empty')
csv_fault("short_row.csv", "x1,x2,y\n1,2,0\n1,2\n", "line 3, has 2 fields; the header has 3")
csv_fault("long_row.csv", "x1,x2,y\n1,2,0,4\n", "line 2, has more than the header's 3 fields")
csv_fault("no_target.csv", "x1,x2,label\n1,2,0\n", 'the header has no column "y" (the target); its columns are "x1", "x2", "label"')
csv_fault("two_targets.csv", "y,x1,y\n1,2,0\n", 'the header names the target "y" twice (columns 1 and 3)')
csv_fault("only_target.csv", "y\n1\n", 'the header has only the target "y": no feature columns')
csv_fault("nan.csv", "x1,x2,y\n1,nan,0\n", 'line 2, column 2 ("x2"): "nan" is NaN or infinite')
csv_fault("beyond_float.csv", "x1,x2,y\n1,1e39,0\n", 'line 2, column 2 ("x2"): "1e39" is beyond the range of a float32')
csv_fault("open_quote.csv", 'x1,x2,y\n1,"2,0\n', "a quoted field is still open at the end of the file")
csv_fault("stray_quote.csv", 'x1,x2,y\n1,2,0\n3,4"5,1\n', "line 3: malformed quoting")
csv_fault("header_only.csv", "x1,x2,y\n\n", "has a header but no rows: a split needs samples")
csv_fault("empty.csv", "", "is empty: a CSV file starts with a header row")
csv_fault("tabs.csv", "x1\tx2\ty\n1\tx\t0\n", 'line 2, column 2 ("x2"): "x" is not a number', delimiter="\t")

# Data that fail only once the criterion says what the labels are.
csv_fault("half_label.csv", "x1,x2,x3,y\n1,2,3,0\n1,2,3,2.5\n", "line 3: the label 2.5 is not a class index")
csv_fault("big_label.csv", "x1,x2,x3,y\n1,2,3,0\n\n1,2,3,7\n", "line 4: label 7 is not one of the model's 3 classes")

with open(os.path.join(out, "csv_manifest.json"), "w") as file:
    json.dump({"cases": csv_manifest, "sha256": digests}, file)

with open(os.path.join(out, "manifest.json"), "w") as file:
    json.dump(manifest, file)
