# bench/plots.mk - charts and CLI timing (included by the Makefile).
#   make plots      benchmark CSVs -> SVG charts in bench/plots/ (gnuplot)
#   make bench-cli  hyperfine: hardreid-difficulty against numpy on one .npy
