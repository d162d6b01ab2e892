import Consent
import Foundation
import PassbyTestSupport
import Testing

/// Vectors whose check characters were computed by an independent implementation of ISO 7064 MOD 11-2.
@Suite("Identity numbers", .timeLimit(.minutes(5)))
struct IdentityNumberTests {
    static let today = CivilDate(year: 2026, month: 11, day: 29)!

    struct Valid: Sendable, CustomTestStringConvertible {
        var input: String
        var normalized: String
        var kind: IdentityNumber.Kind
        var birth: String
        var sex: IdentityNumber.Sex
        var testDescription: String { "\(kind.rawValue) \(input)" }
    }

    static let valid: [Valid] = [
        .init(input: "11010519491231002X", normalized: "11010519491231002X", kind: .mainland, birth: "1949-12-31", sex: .female),
        .init(input: "11010519491231002x", normalized: "11010519491231002X", kind: .mainland, birth: "1949-12-31", sex: .female),
        .init(input: " 110105 19491231 002X ", normalized: "11010519491231002X", kind: .mainland, birth: "1949-12-31", sex: .female),
        .init(input: "110105491231002", normalized: "11010519491231002X", kind: .legacy15, birth: "1949-12-31", sex: .female),
        .init(input: "350203195510101235", normalized: "350203195510101235", kind: .mainland, birth: "1955-10-10", sex: .male),
        .init(input: "810000199001010019", normalized: "810000199001010019", kind: .hk, birth: "1990-01-01", sex: .male),
        .init(input: "820000198506150022", normalized: "820000198506150022", kind: .mo, birth: "1985-06-15", sex: .female),
        .init(input: "830000200002290031", normalized: "830000200002290031", kind: .tw, birth: "2000-02-29", sex: .male),
        .init(input: "911840198001010013", normalized: "911840198001010013", kind: .foreignPermanentResident, birth: "1980-01-01", sex: .male),
        .init(input: "11010519000101001X", normalized: "11010519000101001X", kind: .mainland, birth: "1900-01-01", sex: .male),
        .init(input: "110105202002290047", normalized: "110105202002290047", kind: .mainland, birth: "2020-02-29", sex: .female),
    ]

    @Test("valid numbers parse and normalize", arguments: valid)
    func parsesValid(_ vector: Valid) throws {
        let id = try IdentityNumber(parsing: vector.input, today: Self.today)
        #expect(id.normalized == vector.normalized)
        #expect(id.kind == vector.kind)
        #expect(id.birthDate.description == vector.birth)
        #expect(id.sex == vector.sex)
    }

    static let invalid: [(String, IdentityNumber.Rejection)] = [
        ("", .length),
        ("1101051949123100", .length),  // 16
        ("11010519491231002", .length),  // 17
        ("11010519491231002X1", .length),  // 19
        ("1101051949123100AX", .character),
        ("11010519491231X02X", .character),
        ("11010549123100X", .character),  // 15 digits may not hold an X
        ("11010519491231002Y", .character),
        ("１１０１０５１９４９１２３１００２Ｘ", .character),  // full-width digits
        ("10010519491231002X", .region),  // province 10 does not exist
        ("72010519491231002X", .region),
        ("811000199001010019", .region),  // 81 only as the permit prefix 810000
        ("900840198001010010", .region),  // foreigner number with province 00
        ("971840198001010014", .region),  // foreigner number with province 71
        ("110105194913310021", .date),  // month 13
        ("110105194902300020", .date),  // 30 February
        ("110105202102290028", .date),  // 29 February in a non-leap year
        ("440524188001010014", .date),  // before 1900
        ("320106202611300015", .futureDate),  // tomorrow
        ("110105204001010014", .futureDate),
        ("110105194912310021", .checksum),
        ("110105194912310020", .checksum),
        ("911840198001010012", .checksum),
    ]

    @Test("invalid numbers are refused with their reason", arguments: invalid)
    func refusesInvalid(_ input: String, _ reason: IdentityNumber.Rejection) {
        #expect(throws: reason) { try IdentityNumber(parsing: input, today: Self.today) }
    }

    @Test("a person born today is valid; tomorrow is a future date")
    func bornToday() throws {
        let id = try IdentityNumber(parsing: "320106202611290013", today: Self.today)
        #expect(id.birthDate == Self.today)
        #expect(throws: IdentityNumber.Rejection.futureDate) {
            try IdentityNumber(parsing: "320106202611290013", today: CivilDate(year: 2026, month: 11, day: 28)!)
        }
    }

    @Test("the masked form hides the birth date and is what description shows")
    func masking() throws {
        let id = try IdentityNumber(parsing: "11010519491231002X", today: Self.today)
        #expect(id.masked == "1101**********002X")
        #expect("\(id)" == "1101**********002X")
        #expect(!String(reflecting: id).contains("19491231"))
    }

    @Test("generated numbers round-trip through parsing", arguments: 0..<5)
    func generatedRoundTrip(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed + 1))
        let regions = ["110105", "310104", "440305", "510107", "650102", "810000", "820000", "830000"]
        for _ in 0..<200 {
            let birth = CivilDate(
                year: Int.random(in: 1900...2026, using: &generator), month: Int.random(in: 1...12, using: &generator),
                day: Int.random(in: 1...28, using: &generator))!
            guard birth <= Self.today else { continue }
            let region = regions.randomElement(using: &generator)!
            let sequence = String(format: "%03d", Int.random(in: 0...999, using: &generator))
            let number = IdentityNumber.compose(region: region, birthDate: birth, sequence: sequence)
            let seventeen = Array(number.prefix(17))
            let id = try IdentityNumber(parsing: number, today: Self.today)
            #expect(id.normalized == number)
            #expect(id.birthDate == birth)
            #expect(id.sex == (Int(String(seventeen[16]))! % 2 == 1 ? .male : .female))
            // Any change of the check character is caught.
            let wrong = IdentityNumber.checkCharacter(for: seventeen) == "0" ? "1" : "0"
            #expect(throws: IdentityNumber.Rejection.checksum) {
                try IdentityNumber(parsing: String(seventeen) + wrong, today: Self.today)
            }
        }
    }
}
