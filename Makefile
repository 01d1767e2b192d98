# LectureLens developer tasks. `make install` is idempotent: a second run only re-checks.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The torch/torchvision releases served from this machine's disk (CPU use; see README).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)
DEMO_VIDEO := sample_videos/gallery_3x4.mp4

.PHONY: install system-deps test test-fast demo sample bench wheel clean

install: system-deps $(VENV)/.installed

# tesseract-ocr reads name labels: its Latin-script model accented names (with vie beside it
# for Vietnamese's stacked accents: Đức, Nguyễn), and the kor,
# chi_sim, rus and ara models Korean, Chinese, Cyrillic and Arabic ones (`--ocr-lang auto`
# picks them from the roster). Fonts compose test galleries with such names: DejaVu Sans
# (accents, Cyrillic, Arabic), WenQuanYi Micro Hei (Hangul and Han, 1.6 MB: the smallest
# package with both; Noto Sans CJK, 57 MB, also does) and FriBiDi, which Pillow needs to
# lay Arabic out right to left. Only what is missing is installed; nothing missing, no apt.
TESS_LANGS := Latin:script-latn vie:vie kor:kor chi_sim:chi-sim rus:rus ara:ara
CJK_FONTS  := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc \
              /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

system-deps:
	@missing=""; \
	command -v tesseract >/dev/null 2>&1 || missing="tesseract-ocr"; \
	langs=$$(tesseract --list-langs 2>/dev/null); \
	for pair in $(TESS_LANGS); do \
	  printf '%s\n' "$$langs" | grep -qx "$${pair%%:*}" || missing="$$missing tesseract-ocr-$${pair#*:}"; \
	done; \
	test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || missing="$$missing fonts-dejavu-core"; \
	ls $(CJK_FONTS) 2>/dev/null | grep -q . || missing="$$missing fonts-wqy-microhei"; \
	ls /usr/lib/*/libfribidi.so.0 /usr/lib/libfribidi.so.0 2>/dev/null | grep -q . || missing="$$missing libfribidi0"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_SPEC)
	# facenet-pytorch pins torch<2.3, numpy<2, Pillow<10.3 in its metadata; the code and its
	# MTCNN weights work with the newer stack, so install it without its pins.
	$(PIP) install -q --no-deps 'facenet-pytorch>=2.5'
	# PP-OCR text detector/recogniser for name labels (the wheel ships PP-OCRv4 ONNX models).
	# Its metadata requires opencv-python, which would clash with our headless OpenCV; its
	# other dependencies come from setup.cfg.
	$(PIP) install -q --no-deps rapidocr-onnxruntime==1.4.4
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

# An installable wheel in dist/: the package with its default weights and their model card
# (package data, see setup.cfg); `pip install dist/lecturelens-*.whl` needs no checkout.
wheel: install
	$(PIP) wheel -q --no-deps --no-build-isolation -w dist .

clean:
	rm -rf reports sample_videos/*.mp4 sample_videos/*.json .pytest_cache build dist
