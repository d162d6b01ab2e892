import Foundation

/// Who is eligible: elderly people and small children.
public enum AgeGroup: String, Sendable, Codable {
    case elder, child
}

/// The age rules of docs/format.md §3: thresholds, the zone whose calendar says what "today" is,
/// when a birthday counts, and where a 29 February birthday falls in other years.
public struct AgePolicy: Sendable, Equatable {
    /// On which day a person reaches a new age.
    public enum BirthdayRule: String, Sendable, CaseIterable {
        case birthday
        case dayAfter = "day-after"
    }

    /// Where the anniversary of a 29 February birth falls in a non-leap year.
    public enum LeapDayRule: String, Sendable, CaseIterable {
        case feb28, mar1
    }

    /// Elderly from this age on (inclusive).
    public var elderAge: Int
    /// Children until this age (exclusive: before this birthday).
    public var childAge: Int
    public var birthdayRule: BirthdayRule
    public var leapDayRule: LeapDayRule
    public var timeZone: TimeZone

    public init(
        elderAge: Int = 60, childAge: Int = 6, birthdayRule: BirthdayRule = .birthday,
        leapDayRule: LeapDayRule = .feb28, timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai")!
    ) {
        self.elderAge = elderAge
        self.childAge = childAge
        self.birthdayRule = birthdayRule
        self.leapDayRule = leapDayRule
        self.timeZone = timeZone
    }

    /// The calendar date in the configured zone at an instant (never UTC unless so configured).
    public func today(at instant: Date = Date()) -> CivilDate {
        CivilDate(instant, in: timeZone)
    }

    /// The day in `year` on which a person born on `birth` reaches a new age.
    func ageDay(of birth: CivilDate, in year: Int) -> CivilDate {
        var anniversary: CivilDate
        if birth.month == 2 && birth.day == 29 && !CivilDate.isLeap(year) {
            anniversary =
                leapDayRule == .feb28
                ? CivilDate(year: year, month: 2, day: 28)!
                : CivilDate(year: year, month: 3, day: 1)!
        } else {
            anniversary = CivilDate(year: year, month: birth.month, day: birth.day)!
        }
        if birthdayRule == .dayAfter { anniversary = anniversary.next }
        return anniversary
    }

    /// Completed years of age on `date`; never negative.
    public func age(of birth: CivilDate, on date: CivilDate) -> Int {
        let years = date.year - birth.year
        let age = date < ageDay(of: birth, in: date.year) ? years - 1 : years
        return max(age, 0)
    }

    /// `elder`, `child`, or nil for everyone else.
    public func group(forAge age: Int) -> AgeGroup? {
        if age >= elderAge { return .elder }
        if age < childAge { return .child }
        return nil
    }
}
