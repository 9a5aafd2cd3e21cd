# The soak chart of bench/soak.sh: itemsd's resident memory and open descriptors over the run.
# Usage: gnuplot -e "data='soak.dat'; out='docs/performance-soak.svg'; label='stdout only'" bench/soak.gp
# The data (written by bench/soak.sh): seconds, VmRSS MiB, open descriptors.
set terminal svg size 900,380 dynamic font "sans,12" background "white"
set output out
if (!exists("label")) label = "access log to stdout only"
set title sprintf("itemsd under the soak's mixed load (%s)", label)
set xlabel "seconds"
set ylabel "resident memory, MiB"
set y2label "open file descriptors"
set yrange [0:*]
set y2range [0:*]
set ytics nomirror
set y2tics
set grid
set key bottom right
plot data using 1:2 with lines lw 2 title "VmRSS (MiB)", \
     data using 1:3 axes x1y2 with lines lw 2 dt 2 title "open fds"
