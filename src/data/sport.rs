//! The sport of a workout, as the model's `sport_run` and `sport_ride` inputs encode it: the
//! free text a file names (FIT `sport`, TCX `Activity Sport`, GPX `type`, FitRec `sport`)
//! classified as running, riding or anything else ([`Sport::of`]).

/// A workout's sport class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sport {
    /// Running: run, running, trail running, treadmill, jogging.
    Run,
    /// Riding a bicycle: cycling, biking, bike, ride, road, mountain bike, indoor cycling,
    /// virtual ride.
    Ride,
    /// Anything else, walking and hiking included, and a sport not named.
    Other,
}

/// Words that make a sport walking or hiking (other), whatever else it names: "treadmill
/// walking" is not a run.
const WALK_WORDS: [&str; 5] = ["walk", "walking", "hike", "hiking", "nordic"];
/// Words of running.
const RUN_WORDS: [&str; 6] = ["run", "running", "jog", "jogging", "treadmill", "trailrun"];
/// Words of riding a bicycle.
const RIDE_WORDS: [&str; 15] = [
    "ride",
    "cycling",
    "cycle",
    "biking",
    "bike",
    "bicycle",
    "bicycling",
    "ebike",
    "ebiking",
    "mtb",
    "road",
    "mountain",
    "gravel",
    "cyclocross",
    "spinning",
];

impl Sport {
    /// All classes, in the order of [`Sport::index`].
    pub const ALL: [Sport; 3] = [Sport::Run, Sport::Ride, Sport::Other];

    /// The class of the sport a file names. The text is cut into words (at anything but a
    /// letter or digit, and where a lower-case letter is followed by a capital: `VirtualRide`
    /// is `virtual ride`), case ignored; a walking word makes it [`Sport::Other`], else the
    /// first running or riding word decides (a FIT file naming several sports, `cycling/
    /// running`, is what it names first).
    pub fn of(text: &str) -> Sport {
        let words = words(text);
        if words.iter().any(|w| WALK_WORDS.contains(&w.as_str())) {
            return Sport::Other;
        }
        for word in &words {
            if RUN_WORDS.contains(&word.as_str()) {
                return Sport::Run;
            }
            if RIDE_WORDS.contains(&word.as_str()) {
                return Sport::Ride;
            }
        }
        Sport::Other
    }

    /// The class in one word: `run`, `ride` or `other`.
    pub fn name(self) -> &'static str {
        match self {
            Sport::Run => "run",
            Sport::Ride => "ride",
            Sport::Other => "other",
        }
    }

    /// Position in [`Sport::ALL`].
    pub fn index(self) -> usize {
        match self {
            Sport::Run => 0,
            Sport::Ride => 1,
            Sport::Other => 2,
        }
    }

    /// The values of the inputs `sport_run` and `sport_ride`: 1 for the workout's class, 0
    /// otherwise (both 0 for [`Sport::Other`]).
    pub fn one_hot(self) -> [f64; 2] {
        [
            f64::from(u8::from(self == Sport::Run)),
            f64::from(u8::from(self == Sport::Ride)),
        ]
    }
}

/// The lower-case words of `text`: cut at anything but a letter or digit, and between a
/// lower-case letter and a capital.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        let boundary = !c.is_alphanumeric() || (previous_lower && c.is_uppercase());
        if boundary && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        }
        previous_lower = c.is_lowercase();
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Sport;

    #[test]
    fn spellings_of_running() {
        for text in [
            "running",
            "Running",
            "run",
            "Run",
            "trail_running",
            "running/trail",
            "treadmill",
            "treadmill running",
            "VirtualRun",
            "TrailRun",
            "jogging",
        ] {
            assert_eq!(Sport::of(text), Sport::Run, "{text:?}");
        }
    }

    #[test]
    fn spellings_of_riding() {
        for text in [
            "cycling",
            "Biking",
            "bike",
            "bike (transport)",
            "road",
            "mountain bike",
            "mountain_biking",
            "indoor cycling",
            "indoor_cycling",
            "Ride",
            "VirtualRide",
            "virtual ride",
            "EBikeRide",
            "cycling/road",
        ] {
            assert_eq!(Sport::of(text), Sport::Ride, "{text:?}");
        }
    }

    #[test]
    fn everything_else_is_other() {
        for text in [
            "",
            "Other",
            "generic",
            "training",
            "walk",
            "walking",
            "treadmill walking",
            "hiking",
            "swimming",
            "rowing",
            "cross-country skiing",
            "1",
            "orienteering",
        ] {
            assert_eq!(Sport::of(text), Sport::Other, "{text:?}");
        }
    }

    #[test]
    fn the_first_sport_named_decides() {
        assert_eq!(Sport::of("cycling/running"), Sport::Ride);
        assert_eq!(Sport::of("running/cycling"), Sport::Run);
    }

    #[test]
    fn one_hot() {
        assert_eq!(Sport::Run.one_hot(), [1.0, 0.0]);
        assert_eq!(Sport::Ride.one_hot(), [0.0, 1.0]);
        assert_eq!(Sport::Other.one_hot(), [0.0, 0.0]);
        for (i, s) in Sport::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
    }
}
