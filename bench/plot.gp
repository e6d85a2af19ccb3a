# bench/plot.gp — the plot of one `make bench` run: transport throughput as
# a ratio to its machine baseline (top), and each query's distributed time
# as a ratio to the same pipelines run in one process (bottom).
#
#   gnuplot -e "tfile='X-transports.tsv'; qfile='X-queries.tsv'; \
#               outfile='X.png'; stamp='X'" bench/plot.gp
#
# tfile rows: transport, "label", GB/s, ratio to baseline (tab-separated).
# qfile rows: query, transport, workers, median s, ratio to local-T,
#             ratio to local-1.
if (!exists("tfile") || !exists("qfile") || !exists("outfile")) {
  print "plot.gp: set tfile, qfile and outfile with -e"
  exit
}
if (!exists("stamp")) stamp = ""

set terminal pngcairo size 1400,1000 font "sans,9"
set output outfile
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.8
set grid ytics
set key off
set multiplot layout 2,1 title "dq bench ".stamp

set title "Partition-read throughput / baseline (memcpy 1 MiB for inmem and shm, loopback TCP for grpc); log scale"
set logscale y
set ylabel "ratio"
set xtics rotate by -45 font "sans,7"
plot tfile using 4:xtic(2) linecolor rgb "#4477aa"

unset logscale y
set yrange [0:*]
set title "Query time on W workers / same pipelines in one process (local-T); the line is the 1.15 target"
set ylabel "ratio"
plot qfile using 5:xtic(sprintf("%s %s W=%d", strcol(1), strcol(2), $3)) \
       linecolor rgb "#ee6677", \
     1.15 with lines dashtype 2 linecolor rgb "black"

unset multiplot
