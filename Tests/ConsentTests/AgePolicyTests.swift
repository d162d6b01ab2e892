import Consent
import Foundation
import Testing

@Suite("Age eligibility", .timeLimit(.minutes(5)))
struct AgePolicyTests {
    func date(_ text: String) -> CivilDate { CivilDate(iso: text)! }

    @Test("today is the calendar date in Asia/Shanghai, not UTC")
    func midnightInShanghai() throws {
        let policy = AgePolicy()
        let birth = date("1966-11-29")
        let beforeMidnight = try Date("2026-11-28T15:59:59Z", strategy: .iso8601)
        let atMidnight = try Date("2026-11-28T16:00:00Z", strategy: .iso8601)
        #expect(policy.today(at: beforeMidnight) == date("2026-11-28"))
        #expect(policy.today(at: atMidnight) == date("2026-11-29"))
        #expect(policy.group(forAge: policy.age(of: birth, on: policy.today(at: beforeMidnight))) == nil)
        #expect(policy.group(forAge: policy.age(of: birth, on: policy.today(at: atMidnight))) == .elder)
        var utc = policy
        utc.timeZone = TimeZone(identifier: "UTC")!
        #expect(utc.today(at: atMidnight) == date("2026-11-28"))
    }

    struct Boundary: Sendable, CustomTestStringConvertible {
        var rule: AgePolicy.BirthdayRule
        var leap: AgePolicy.LeapDayRule = .feb28
        var birth: String
        var on: String
        var age: Int
        var group: AgeGroup?
        var testDescription: String { "\(rule.rawValue)/\(leap.rawValue): born \(birth), on \(on) → \(age)" }
    }

    static let boundaries: [Boundary] = [
        // The 60 boundary.
        .init(rule: .birthday, birth: "1966-11-29", on: "2026-11-28", age: 59, group: nil),
        .init(rule: .birthday, birth: "1966-11-29", on: "2026-11-29", age: 60, group: .elder),
        .init(rule: .dayAfter, birth: "1966-11-29", on: "2026-11-29", age: 59, group: nil),
        .init(rule: .dayAfter, birth: "1966-11-29", on: "2026-11-30", age: 60, group: .elder),
        // The 6 boundary: a child until the sixth birthday (or the day after it).
        .init(rule: .birthday, birth: "2020-11-29", on: "2026-11-28", age: 5, group: .child),
        .init(rule: .birthday, birth: "2020-11-29", on: "2026-11-29", age: 6, group: nil),
        .init(rule: .dayAfter, birth: "2020-11-29", on: "2026-11-29", age: 5, group: .child),
        .init(rule: .dayAfter, birth: "2020-11-29", on: "2026-11-30", age: 6, group: nil),
        // 31 December birthdays roll the day-after rule into the next year.
        .init(rule: .dayAfter, birth: "1965-12-31", on: "2025-12-31", age: 59, group: nil),
        .init(rule: .dayAfter, birth: "1965-12-31", on: "2026-01-01", age: 60, group: .elder),
        // 29 February births in non-leap years.
        .init(rule: .birthday, leap: .feb28, birth: "2020-02-29", on: "2026-02-27", age: 5, group: .child),
        .init(rule: .birthday, leap: .feb28, birth: "2020-02-29", on: "2026-02-28", age: 6, group: nil),
        .init(rule: .birthday, leap: .mar1, birth: "2020-02-29", on: "2026-02-28", age: 5, group: .child),
        .init(rule: .birthday, leap: .mar1, birth: "2020-02-29", on: "2026-03-01", age: 6, group: nil),
        .init(rule: .dayAfter, leap: .feb28, birth: "2020-02-29", on: "2026-02-28", age: 5, group: .child),
        .init(rule: .dayAfter, leap: .feb28, birth: "2020-02-29", on: "2026-03-01", age: 6, group: nil),
        .init(rule: .birthday, leap: .feb28, birth: "1964-02-29", on: "2024-02-28", age: 59, group: nil),
        .init(rule: .birthday, leap: .feb28, birth: "1964-02-29", on: "2024-02-29", age: 60, group: .elder),
        .init(rule: .birthday, leap: .mar1, birth: "1963-02-28", on: "2023-02-28", age: 60, group: .elder),
        // Newborns are children; adults are nobody's group.
        .init(rule: .birthday, birth: "2026-11-29", on: "2026-11-29", age: 0, group: .child),
        .init(rule: .dayAfter, birth: "2026-11-29", on: "2026-11-29", age: 0, group: .child),
        .init(rule: .birthday, birth: "1990-05-20", on: "2026-11-29", age: 36, group: nil),
    ]

    @Test("age and group at the boundaries, under both rules", arguments: boundaries)
    func boundary(_ boundary: Boundary) {
        let policy = AgePolicy(birthdayRule: boundary.rule, leapDayRule: boundary.leap)
        let age = policy.age(of: date(boundary.birth), on: date(boundary.on))
        #expect(age == boundary.age)
        #expect(policy.group(forAge: age) == boundary.group)
    }

    @Test("thresholds are configuration")
    func configurableThresholds() {
        let policy = AgePolicy(elderAge: 65, childAge: 3)
        #expect(policy.group(forAge: 64) == nil)
        #expect(policy.group(forAge: 65) == .elder)
        #expect(policy.group(forAge: 2) == .child)
        #expect(policy.group(forAge: 3) == nil)
    }
}
