// pCF on a TIFF time series with photobleaching correction first.
//
// Writes OUTDIR/corrected.tif (bleach-corrected series), OUTDIR/pcf.tif (the pCF hyperstack:
// x, y = centre pixel, slices = circle points, frames = delay bins) and OUTDIR/pcf_bins.csv
// (the Results table: delay of every bin and the mean pCF).
//   xvfb-run -a java -jar ij.jar -batch pcf_bleach.ijm "/data/series.tif|/data/out|64|4|16|16"
// Arguments: input|output folder|bleach filter (frames)|radius|points|bins
args = split(getArgument(), "|");
if (args.length < 2) {
	input = File.openDialog("Image time series (TIFF)");
	out = getDirectory("Output folder");
	args = newArray(input, out, "1024", "6", "32", "32");
}
input = args[0]; out = args[1];
filter = "1024"; radius = "6"; points = "32"; bins = "32";
if (args.length > 2) filter = args[2];
if (args.length > 3) radius = args[3];
if (args.length > 4) points = args[4];
if (args.length > 5) bins = args[5];
if (!endsWith(out, File.separator)) out = out + File.separator;
File.makeDirectory(out);
setBatchMode(true);
open(input);
run("pCF Bleach Correction", "filter=" + filter + " type=float32 mean=integer");
saveAs("Tiff", out + "corrected.tif");
run("pCF Analysis", "radius=" + radius + " points=" + points + " bins=" + bins + " smooth");
saveAs("Tiff", out + "pcf.tif");
Table.save(out + "pcf_bins.csv", "Results");
print("pCF with bleaching correction: results in " + out);
