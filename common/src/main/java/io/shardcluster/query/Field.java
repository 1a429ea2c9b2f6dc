package io.shardcluster.query;

import java.util.List;

/**
 * A field of a document by its path, {@code a.b} for field b of object a; {@code _key} the key.
 *
 * @param path the path as written
 * @param parts the path's names, outermost first
 */
public record Field(String path, List<String> parts) {
  /** The pseudo-column that is the key. */
  public static final String KEY = "_key";

  public Field {
    if (path == null || path.isEmpty()) {
      throw new IllegalArgumentException("a field needs a name");
    }
  }

  public Field(String path) {
    this(path, path == null ? List.of() : List.of(path.split("\\.", -1)));
  }

  boolean isKey() {
    return path.equals(KEY);
  }

  @Override
  public String toString() {
    return path;
  }
}
