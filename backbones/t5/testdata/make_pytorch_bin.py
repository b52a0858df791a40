# Regenerates pytorch_model.bin (a torch.save state dict, zip format) from the repository's
# t5-tiny-v10 fixture's model.safetensors, to test loading PyTorch pickles through gotch.
# Run with Debian's python3-torch:  /usr/bin/python3 make_pytorch_bin.py
import json, struct, sys, torch

src = "../../../testdata/fixtures/t5/t5-tiny-v10/model.safetensors"
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
state = {}
for name, e in header.items():
    if name == "__metadata__" or name == "prompt.weight":
        continue
    assert e["dtype"] == "F32"
    b, end = e["data_offsets"]
    t = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"])
    state[name] = t.clone()
torch.save(state, "pytorch_model.bin")
print(len(state), "tensors")
