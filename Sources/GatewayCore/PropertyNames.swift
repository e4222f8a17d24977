/// Property lists are normalized once, where a request enters the door: sorted and without
/// duplicates, so that one set of properties is one cache entry and one batch group whatever
/// order a caller named them in. The cache and the read coalescer take the list as given.
public enum PropertyNames {
    public static func normalized(_ names: [String]) -> [String] {
        Array(Set(names)).sorted()
    }
}
