/// Splits a SQL script into statements, because postgres-nio sends one statement per query.
///
/// It knows enough of PostgreSQL's lexer for migration files: quoted strings and identifiers,
/// dollar-quoted bodies (`$$ … $$`, `$fn$ … $fn$`), and both kinds of comment.
public enum SQLScript {
    public static func statements(in script: String) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        // A piece holding only comments and white space is not a statement.
        var hasCode = false

        func flush() {
            if hasCode { statements.append(String(current).trimmingWhitespace()) }
            current = String.UnicodeScalarView()
            hasCode = false
        }
        func copy(until end: Int) {
            current.append(contentsOf: chars[i..<min(end, chars.count)])
            i = min(end, chars.count)
        }
        func find(_ needle: [Unicode.Scalar], from start: Int) -> Int? {
            guard !needle.isEmpty, chars.count >= needle.count else { return nil }
            var j = start
            while j + needle.count <= chars.count {
                if Array(chars[j..<j + needle.count]) == needle { return j }
                j += 1
            }
            return nil
        }

        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            switch c {
            case "-" where next == "-":
                let end = find(["\n"], from: i) ?? chars.count
                copy(until: end)
            case "/" where next == "*":
                let end = (find(["*", "/"], from: i + 2) ?? chars.count - 2) + 2
                copy(until: end)
            case "'", "\"":
                hasCode = true
                // A doubled quote inside is an escaped quote; it simply closes and reopens.
                let end = (find([c], from: i + 1) ?? chars.count - 1) + 1
                copy(until: end)
            case "$":
                hasCode = true
                var j = i + 1
                while j < chars.count, chars[j] == "_" || chars[j].properties.isAlphabetic || (j > i + 1 && ("0"..."9").contains(chars[j])) {
                    j += 1
                }
                if j < chars.count, chars[j] == "$" {
                    let tag = Array(chars[i...j])
                    let close = find(tag, from: j + 1).map { $0 + tag.count } ?? chars.count
                    copy(until: close)
                } else {
                    copy(until: i + 1)
                }
            case ";":
                i += 1
                flush()
            default:
                if !c.properties.isWhitespace { hasCode = true }
                copy(until: i + 1)
            }
        }
        flush()
        return statements
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}
