import Database
import Testing

@Suite("SQL script splitting", .timeLimit(.minutes(5)))
struct SQLScriptTests {
    @Test("splits on semicolons outside strings, identifiers, comments and dollar quotes")
    func splits() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'a;b', "odd;name" int);
            /* block; comment */
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'no; never'; END;
            $$;
            CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;
            INSERT INTO a VALUES ('it''s; fine', 1)
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("\"odd;name\" int)"))
        #expect(statements[1].contains("RAISE EXCEPTION 'no; never'; END;"))
        #expect(statements[2].hasSuffix("$body$ SELECT 1; $body$"))
        #expect(statements[3] == "INSERT INTO a VALUES ('it''s; fine', 1)")
    }

    @Test("a script of only comments and blank lines has no statements")
    func onlyComments() {
        #expect(SQLScript.statements(in: "-- nothing\n\n/* still nothing */\n;\n").isEmpty)
    }

    @Test("positional parameters are not mistaken for dollar quotes")
    func positional() {
        #expect(SQLScript.statements(in: "SELECT $1; SELECT $2").count == 2)
    }
}
