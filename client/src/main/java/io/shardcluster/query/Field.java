package io.shardcluster.query;

import java.util.List;

/** A field of a document by its path, {@code a.b} for field b of object a; {@code _key} the key. */
public record Field(String path) {
  /** The pseudo-column that is the key. */
  public static final String KEY = "_key";

  public Field {
    if (path == null || path.isEmpty()) {
      throw new IllegalArgumentException("a field needs a name");
    }
  }

  boolean isKey() {
    return path.equals(KEY);
  }

  List<String> parts() {
    return List.of(path.split("\\.", -1));
  }

  @Override
  public String toString() {
    return path;
  }
}
