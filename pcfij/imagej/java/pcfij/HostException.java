package pcfij;

/** A command failed: the message is the one line ImageJ shows. */
final class HostException extends Exception {
	HostException(String message) { super(message); }
}
