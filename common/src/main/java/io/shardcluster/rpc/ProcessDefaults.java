package io.shardcluster.rpc;

/** Process-wide settings every shardcluster program applies first thing in its {@code main}. */
public final class ProcessDefaults {
  /** The one-line log format for java.util.logging: time, level, logger, message. */
  public static final String LOG_FORMAT = "%1$tF %1$tT.%1$tL %4$-7s [%3$s] %5$s%6$s%n";

  private ProcessDefaults() {}

  /**
   * Applies each default only if the user did not set the property: one-line log records, and no
   * Netty buffer-leak sampling (it records a stack trace for one buffer in 128, measurable on the
   * request path).
   */
  public static void apply() {
    setIfAbsent("SimpleFormatter.format", LOG_FORMAT);
    setIfAbsent("io.grpc.netty.shaded.io.netty.leakDetection.level", "disabled");
  }

  private static void setIfAbsent(String property, String value) {
    if (System.getProperty(property) == null) {
      System.setProperty(property, value);
    }
  }
}
