// Batch Colocalization by Cross Correlation over a folder of image pairs -> one CSV.
//
// Pairs are NAME_ch1.tif + NAME_ch2.tif, with an optional NAME_mask.tif (non-zero = where
// the signal could be); without a mask the whole image is analysed.
// Needs the pcfij commands (Plugins > pcfij: `pcfij install-plugins /path/to/Fiji.app`,
// or ImageJ started from Python with pcfij.imagej.start_imagej()). A pair that fails
// (e.g. different sizes) stops the macro with its error: no row is written for it.
//
// Interactive: asks for the folder and the CSV file. Headless / batch:
//   xvfb-run -a java -jar ij.jar -batch batch_ccc_folder.ijm "/data/pairs|/data/ccc.csv"
//   ImageJ-linux64 --headless -batch batch_ccc_folder.ijm "/data/pairs|/data/ccc.csv"
args = split(getArgument(), "|");
if (args.length >= 2) { dir = args[0]; csv = args[1]; }
else {
	dir = getDirectory("Folder with NAME_ch1.tif / NAME_ch2.tif pairs");
	csv = File.openDialog("CSV file to write");
}
if (!endsWith(dir, File.separator)) dir = dir + File.separator;
setBatchMode(true);
files = getFileList(dir);
Array.sort(files);
text = "";
header = "";
npairs = 0;
for (i = 0; i < files.length; i++) {
	if (!endsWith(files[i], "_ch1.tif")) continue;
	name = substring(files[i], 0, lengthOf(files[i]) - lengthOf("_ch1.tif"));
	if (!File.exists(dir + name + "_ch2.tif")) { print("skipping " + name + ": no _ch2.tif"); continue; }
	open(dir + name + "_ch1.tif"); a = getTitle();
	open(dir + name + "_ch2.tif"); b = getTitle();
	opts = "dataset1=[" + a + "] dataset2=[" + b + "]";
	m = "";
	if (File.exists(dir + name + "_mask.tif")) {
		open(dir + name + "_mask.tif"); m = getTitle();
		opts = opts + " maskdataset=[" + m + "]";
	} else opts = opts + " maskabsent";
	run("Colocalization by Cross Correlation", opts);
	// one row per pair: the "CC Results" table (row labels = measure names, column Value)
	n = Table.size("CC Results");
	if (header == "") {
		header = "Pair";
		for (r = 0; r < n; r++) header = header + "," + Table.getString("Label", r, "CC Results");
	}
	line = name;
	for (r = 0; r < n; r++) line = line + "," + d2s(Table.get("Value", r, "CC Results"), -12);
	text = text + line + "\n";
	npairs++;
	close("*");
}
File.saveString(header + "\n" + text, csv);
print("batch CCC: " + npairs + " pairs -> " + csv);
