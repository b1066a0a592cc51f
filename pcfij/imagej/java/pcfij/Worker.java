package pcfij;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The persistent Python worker of this ImageJ session: started on first use, reused,
 *  restarted when it died. One JSON object per line on its stdin/stdout; pixels in files of
 *  a private folder in /dev/shm (memory): the worker memory-maps them, Java reads and writes
 *  them in bulk through one direct buffer (measured faster here than mapping, whose pages
 *  fault in one by one). */
final class Worker {
	static final String PYTHON_FILE = "pcfij-python.txt";
	private static Worker instance;
	private static final Object EOF = new Object();

	final File dir;
	private final Process process;
	private final Writer in;
	private final BlockingQueue<Object> replies = new LinkedBlockingQueue<Object>();
	private volatile String lastError = "";
	private long workerPid = -1;

	/** The running worker, started if there is none or it died. */
	static synchronized Worker get() throws HostException {
		if (instance != null && !instance.process.isAlive()) {
			instance.cleanup();
			instance = null;
		}
		if (instance == null) instance = new Worker();
		return instance;
	}

	static synchronized String pid() {
		if (instance == null || !instance.process.isAlive()) return "";
		return String.valueOf(instance.workerPid);
	}

	/** Stop the worker (it is started again by the next command). */
	static synchronized void kill() {
		if (instance != null) {
			instance.process.destroyForcibly();
			try { instance.process.waitFor(5, TimeUnit.SECONDS); } catch (InterruptedException e) { }
			instance.cleanup();
			instance = null;
		}
	}

	private Worker() throws HostException {
		File shm = new File("/dev/shm");
		File base = shm.isDirectory() && shm.canWrite() ? shm : new File(System.getProperty("java.io.tmpdir"));
		String me = java.lang.management.ManagementFactory.getRuntimeMXBean().getName().split("@")[0];
		removeStale(base);
		try {
			dir = Files.createTempDirectory(base.toPath(), "pcfij-" + me + "-").toFile();
		} catch (IOException e) {
			throw new HostException("cannot create a shared-memory folder in " + base + ": " + e.getMessage());
		}
		String python = python();
		List<String> cmd = new ArrayList<String>();
		cmd.add(python);
		cmd.add("-m");
		cmd.add("pcfij.imagej.worker");
		cmd.add(dir.getPath());
		ProcessBuilder pb = new ProcessBuilder(cmd);
		pb.environment().put("PYTHONUNBUFFERED", "1");
		try {
			process = pb.start();
		} catch (IOException e) {
			deleteDir();
			throw new HostException("cannot start Python (" + python + "): " + e.getMessage()
				+ "; run `pcfij install-plugins` again or set PCFIJ_PYTHON");
		}
		in = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
		final BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
		final BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8));
		Thread reader = new Thread("pcfij-worker-out") {
			public void run() {
				try {
					String line;
					while ((line = out.readLine()) != null) {
						try { replies.put(Json.parse(line)); }
						catch (IllegalArgumentException e) { System.err.println("pcfij worker: " + line); }
					}
				} catch (Exception e) { }
				replies.add(EOF);
			}
		};
		Thread errors = new Thread("pcfij-worker-err") {
			public void run() {
				try {
					String line;
					while ((line = err.readLine()) != null) {
						if (line.trim().length() > 0) lastError = line.trim();
						System.err.println(line);
					}
				} catch (IOException e) { }
			}
		};
		reader.setDaemon(true);
		errors.setDaemon(true);
		reader.start();
		errors.start();
		Runtime.getRuntime().addShutdownHook(new Thread("pcfij-worker-stop") {
			public void run() { process.destroy(); deleteDir(); }
		});
		Map<String, Object> ready = next(120000);
		if (ready == null || !"ready".equals(ready.get("event")))
			throw new HostException("the Python worker did not start (" + python + "): " + lastError);
		workerPid = ((Number) ready.get("pid")).longValue();
	}

	/** Folders left by ImageJ sessions that were killed (their process is gone). */
	private static void removeStale(File base) {
		if (!new File("/proc/self").exists()) return;
		File[] dirs = base.listFiles();
		if (dirs == null) return;
		for (File d : dirs) {
			String[] parts = d.getName().split("-");
			if (!d.isDirectory() || parts.length < 3 || !parts[0].equals("pcfij") || !parts[1].matches("[0-9]+")) continue;
			if (new File("/proc/" + parts[1]).exists()) continue;
			File[] files = d.listFiles();
			if (files != null) for (File f : files) f.delete();
			d.delete();
		}
	}

	/** The Python to run: $PCFIJ_PYTHON, else the one `pcfij install-plugins` recorded next
	 *  to this jar, else python3. */
	static String python() {
		String env = System.getenv("PCFIJ_PYTHON");
		if (env != null && env.length() > 0) return env;
		try {
			File jar = new File(Worker.class.getProtectionDomain().getCodeSource().getLocation().toURI());
			File f = new File(jar.getParentFile(), PYTHON_FILE);
			if (f.isFile()) {
				String s = new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8).trim();
				if (s.length() > 0) return s;
			}
		} catch (Exception e) { }
		return "python3";
	}

	void send(Map<String, Object> request) throws HostException {
		try {
			in.write(Json.write(request));
			in.write("\n");
			in.flush();
		} catch (IOException e) {
			throw new HostException("the Python worker stopped (" + lastError + "); it is restarted by the next command");
		}
	}

	/** The next message, or null after timeoutMs; a stopped worker is an error. */
	@SuppressWarnings("unchecked")
	Map<String, Object> next(long timeoutMs) throws HostException {
		Object m;
		try {
			m = replies.poll(timeoutMs, TimeUnit.MILLISECONDS);
		} catch (InterruptedException e) {
			throw new HostException("interrupted");
		}
		if (m == EOF) {
			int code = -1;
			try { process.waitFor(2, TimeUnit.SECONDS); code = process.exitValue(); } catch (Exception e) { }
			throw new HostException("the Python worker stopped (exit code " + code + (lastError.length() > 0 ? ": " + lastError : "")
				+ "); it is restarted by the next command");
		}
		return (Map<String, Object>) m;
	}

	boolean alive() { return process.isAlive(); }

	/** After a call: delete its table and plot files; keep the image files (inputs
	 *  {@code in-NAME.raw}, outputs {@code out-K.raw}) while they total at most
	 *  {@link #KEEP_BYTES}, so that the next call writes over their memory pages instead of
	 *  fresh ones. Everything goes when the worker stops or ImageJ exits. */
	void clean() {
		File[] files = dir.listFiles();
		if (files == null) return;
		long kept = 0;
		for (File f : files) {
			String n = f.getName();
			boolean image = n.endsWith(".raw") && (n.startsWith("in-") || n.matches("out-[0-9]+\\.raw"));
			long size = f.length();
			if (image && kept + size <= KEEP_BYTES) kept += size;
			else f.delete();
		}
	}

	/** At most an eighth of the physical memory (1 GiB if unknown) of image files kept. */
	static final long KEEP_BYTES = keepBytes();

	private static long keepBytes() {
		try {
			java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
			long total = ((com.sun.management.OperatingSystemMXBean) os).getTotalPhysicalMemorySize();
			if (total > 0) return total / 8;
		} catch (Throwable t) { }
		return 1L << 30;
	}

	private void removeAll() {
		File[] files = dir.listFiles();
		if (files != null) for (File f : files) f.delete();
	}

	private void cleanup() { deleteDir(); }

	private void deleteDir() {
		removeAll();
		dir.delete();
	}

	// ------------------------------------------------------------------ pixels
	private static final ByteBuffer[] shared = new ByteBuffer[8];

	/** A reused direct buffer of at least this many bytes (native byte order); one per
	 *  copying thread ({@code slot} 0..7). */
	static synchronized ByteBuffer buffer(int slot, long bytes) {
		ByteBuffer b = shared[slot];
		if (b == null || b.capacity() < bytes) {
			unmap(b);
			b = shared[slot] = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
		}
		b.clear();
		return b;
	}

	/** Threads for copying pixels: up to 4 (the cores there are), one for less than 64 MB. */
	static int copyThreads(long bytes, int chunks) {
		if (bytes < (64L << 20)) return 1;
		return (int) Math.max(1, Math.min(chunks, Math.min(4, Runtime.getRuntime().availableProcessors())));
	}

	/** Run {@code task} on {@code nthreads} threads (this one included) and wait for all. */
	static void onThreads(Runnable task, int nthreads, String name) throws IOException {
		Thread[] helpers = new Thread[nthreads - 1];
		for (int k = 0; k < helpers.length; k++) {
			helpers[k] = new Thread(task, name + "-" + k);
			helpers[k].start();
		}
		task.run();
		for (Thread t : helpers) {
			try { t.join(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); throw new IOException("interrupted"); }
		}
	}

	/** Whole planes per buffer: about 16 MB (at least one plane). */
	static int planesPerBuffer(long planeBytes, int nplanes) {
		return (int) Math.max(1, Math.min(nplanes, (16L << 20) / Math.max(1, planeBytes)));
	}

	/** Unmap now (Java 9+), instead of whenever the garbage collector runs. */
	static void unmap(ByteBuffer b) {
		if (b == null || !b.isDirect()) return;
		try {
			Class<?> c = Class.forName("sun.misc.Unsafe");
			Field f = c.getDeclaredField("theUnsafe");
			f.setAccessible(true);
			Method m = c.getMethod("invokeCleaner", ByteBuffer.class);
			m.invoke(f.get(null), b);
		} catch (Throwable t) { }
	}
}
