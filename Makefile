# LectureLens developer tasks. `make install` is idempotent: a second run only re-checks.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The torch/torchvision releases served from this machine's disk (CPU use; see README).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)
DEMO_VIDEO := sample_videos/gallery_3x4.mp4

.PHONY: install system-deps test test-fast demo sample bench clean

install: system-deps $(VENV)/.installed

# tesseract-ocr (+ its Latin-script model, for accented names) reads name labels;
# fonts-dejavu-core draws accented names in composed galleries.
system-deps:
	@{ command -v tesseract >/dev/null 2>&1 && test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf && tesseract --list-langs 2>&1 | grep -qx Latin; } || { \
	  echo "installing tesseract-ocr, tesseract-ocr-script-latn, fonts-dejavu-core (Debian)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq tesseract-ocr tesseract-ocr-script-latn fonts-dejavu-core >/dev/null; }

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_SPEC)
	# facenet-pytorch pins torch<2.3, numpy<2, Pillow<10.3 in its metadata; the code and its
	# MTCNN weights work with the newer stack, so install it without its pins.
	$(PIP) install -q --no-deps 'facenet-pytorch>=2.5'
	$(PIP) install -q -e '.[test,sample]'
	touch $@

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

$(DEMO_VIDEO):
	$(PY) sample_videos/compose_gallery.py --rows 3 --cols 4 --duration 30 -o $@

sample: install $(DEMO_VIDEO)

demo: sample
	$(VENV)/bin/lecturelens doctor
	$(VENV)/bin/lecturelens analyze $(DEMO_VIDEO) -o reports

# Speed: analyze vs the naive pipeline on a 25-tile 720p gallery (composed once, ~5 min;
# then ~6 min per run). Prints x real time, stage times, peak memory, the speed-up; writes
# bench/results/speed.json.
bench: install
	$(PY) bench/speed.py

clean:
	rm -rf reports sample_videos/*.mp4 sample_videos/*.json .pytest_cache
