# The two commands a newcomer needs are `make smoke` (the main job, offline) and `make test`.
.PHONY: setup build smoke test bench

setup:
	scripts/setup.sh

build: setup

# The adapter runs at lr 1e-3 here: at the reference's 3e-4 (its default) 300 steps on the random
# t5-tiny do not leave the frozen model's outputs (docs/fidelity.md).
smoke: setup
	bin/ptbench run --methods ept,dept,pt,lora,adapter --preset smoke --tasks syn-keyword,syn-parity --out runs/smoke \
		--set adapter.lr=1e-3 --set adapter.norm_lr=1e-3

test: setup
	scripts/test.sh

bench: setup
	bin/ptbench bench --methods pt --backbone t5-small --seq 128 --batch-size 16 --steps 500 --rss-at 50,500
