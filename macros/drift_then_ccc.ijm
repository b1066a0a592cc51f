// Drift correction of two time series, then Colocalization by Cross Correlation per frame.
//
// Each channel is registered to its first frame (Correct Drift), then CCC runs on the
// corrected series (one row per frame in its "Correlation over time" table), saved as CSV;
// the drift tables are saved too.
// Channels recorded simultaneously share their drift: correcting each one separately works
// when both have enough structure; otherwise correct one and apply its table.
//   xvfb-run -a java -jar ij.jar -batch drift_then_ccc.ijm "/data/ch1.tif|/data/ch2.tif|/data/out"
args = split(getArgument(), "|");
if (args.length < 3) {
	args = newArray(File.openDialog("Channel 1 time series"), File.openDialog("Channel 2 time series"),
		getDirectory("Output folder"));
}
out = args[2];
if (!endsWith(out, File.separator)) out = out + File.separator;
File.makeDirectory(out);
setBatchMode(true);
open(args[0]); c1 = getTitle();
run("Correct Drift", "reference=first method=correlation margin=10 subpixel=diff block=1 order=3 fill=constant");
Table.save(out + "drift_ch1.csv", "Results");
d1 = getTitle();
open(args[1]); c2 = getTitle();
run("Correct Drift", "reference=first method=correlation margin=10 subpixel=diff block=1 order=3 fill=constant");
Table.save(out + "drift_ch2.csv", "Results");
d2 = getTitle();
run("Colocalization by Cross Correlation", "dataset1=[" + d1 + "] dataset2=[" + d2 + "] maskabsent");
Table.save(out + "ccc_frames.csv", "Correlation over time");
print("drift correction + CCC: results in " + out);
