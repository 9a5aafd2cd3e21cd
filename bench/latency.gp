# The latency chart of bench/run-bench.sh: p50 and p99 against connections, one line a series.
# Usage: gnuplot -e "data='.tmp/bench/latency.dat'; out='docs/performance-latency.svg'" bench/latency.gp
# The data (written by bench/report.py): one block a series, its first line the title.
set terminal svg size 1100,480 dynamic font "sans,12" background "white"
set output out
set multiplot layout 1,2 title "itemsd: latency against connections (wrk / pgbench, closed loop)"
set logscale xy
set xrange [0.8:320]
set xtics (1, 4, 16, 64, 256)
set xlabel "connections"
set ylabel "milliseconds"
set grid
set key top left font ",10" noenhanced
set style data linespoints
set title "p50"
plot for [i=0:4] data index i using 1:2 title columnheader(1) lw 2 pt 7
set title "p99"
plot for [i=0:4] data index i using 1:3 title columnheader(1) lw 2 pt 7
unset multiplot
