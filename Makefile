# The two commands a newcomer needs are `make smoke` (the main job, offline) and `make test`.
.PHONY: setup build smoke test bench

setup:
	scripts/setup.sh

build: setup

smoke: setup
	bin/ptbench run --methods ept,dept,pt,lora,adapter --preset smoke --tasks syn-keyword,syn-parity --out runs/smoke

test: setup
	scripts/test.sh

bench: setup
	bin/ptbench bench --methods pt --backbone t5-small --seq 128 --batch 16 --steps 500 --rss-at 50,500
