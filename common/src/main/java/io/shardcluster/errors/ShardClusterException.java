package io.shardcluster.errors;

import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * A failed cluster operation. The {@link #code() code} says why; the message names the value or
 * node involved and is fit to show to a user as it is.
 */
public class ShardClusterException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  /** Creates an exception with the given code and message. */
  public ShardClusterException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  /** Creates an exception with the given code, message and cause. */
  public ShardClusterException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** Why the operation failed. */
  public ErrorCode code() {
    return code;
  }

  /** Bad input; the message names the bad value. */
  public static ShardClusterException invalidArgument(String message) {
    return new ShardClusterException(ErrorCode.INVALID_ARGUMENT, message);
  }

  /** A named thing does not exist. */
  public static ShardClusterException notFound(String message) {
    return new ShardClusterException(ErrorCode.NOT_FOUND, message);
  }

  /** A thing to create exists already. */
  public static ShardClusterException alreadyExists(String message) {
    return new ShardClusterException(ErrorCode.ALREADY_EXISTS, message);
  }

  /** The cluster's state does not allow the operation. */
  public static ShardClusterException failedPrecondition(String message) {
    return new ShardClusterException(ErrorCode.FAILED_PRECONDITION, message);
  }

  /** Something cannot be reached. */
  public static ShardClusterException unavailable(String message) {
    return new ShardClusterException(ErrorCode.UNAVAILABLE, message);
  }

  /** Stored data is damaged and cannot be read. */
  public static ShardClusterException dataLoss(String message) {
    return new ShardClusterException(ErrorCode.DATA_LOSS, message);
  }

  /** A transaction was rolled back: a conflict, or it expired. */
  public static ShardClusterException aborted(String message) {
    return new ShardClusterException(ErrorCode.ABORTED, message);
  }

  /** Too large or overloaded. */
  public static ShardClusterException resourceExhausted(String message) {
    return new ShardClusterException(ErrorCode.RESOURCE_EXHAUSTED, message);
  }

  /** What went wrong; never null, since every constructor takes a message. */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message != null ? message : code.name();
  }

  /** Checks a request argument, failing with INVALID_ARGUMENT and the given message. */
  public static void requireArgument(boolean condition, String message) {
    if (!condition) {
      throw invalidArgument(message);
    }
  }

  /**
   * Checks a request argument, failing with INVALID_ARGUMENT and the template's {@code %s} filled
   * with the value. The message is formatted only on failure: checks on the request path cost no
   * string building (and, for numbers, no boxing) when they pass.
   */
  public static void requireArgument(boolean condition, String template, long value) {
    if (!condition) {
      throw invalidArgument(format(template, value));
    }
  }

  /** As {@link #requireArgument(boolean, String, long)}, for two numbers. */
  public static void requireArgument(boolean condition, String template, long first, long second) {
    if (!condition) {
      throw invalidArgument(format(template, first, second));
    }
  }

  /** As {@link #requireArgument(boolean, String, long)}, for any value. */
  public static void requireArgument(boolean condition, String template, @Nullable Object value) {
    if (!condition) {
      throw invalidArgument(format(template, value));
    }
  }

  /** As {@link #requireArgument(boolean, String, long)}, for any values. */
  public static void requireArgument(
      boolean condition, String template, @Nullable Object first, @Nullable Object second) {
    if (!condition) {
      throw invalidArgument(format(template, first, second));
    }
  }

  private static String format(String template, @Nullable Object... values) {
    return String.format(Locale.ROOT, template, values);
  }
}
