import Foundation
import Spectral

/// Mono samples at `parameters.sampleRate` in, landmark hashes out.
public struct Fingerprinter: Sendable {
    public let parameters: FingerprintParameters
    private let stft: STFT

    public init(parameters: FingerprintParameters = .current) {
        self.parameters = parameters
        self.stft = STFT(size: parameters.fftSize, hop: parameters.hop)
    }

    public func peaks(samples: [Float]) -> [Peak] {
        PeakPicker(parameters: parameters).peaks(in: stft.powerSpectrogram(samples, sampleRate: parameters.sampleRate))
    }

    /// Landmarks of a master, as stored.
    public func landmarks(samples: [Float]) -> [Landmark] {
        landmarks(peaks: peaks(samples: samples))
    }

    /// Hashes each anchor with the next `fanout` peaks of its target zone, untransformed.
    public func landmarks(peaks: [Peak]) -> [Landmark] {
        pairs(peaks).compactMap { pair in
            hash(pair, pitchShift: 0, timeScale: 1).map { Landmark(hash: $0, frame: Int32(pair.time.rounded())) }
        }
    }

    /// A query's landmarks, each hashed under every transform of `parameters.pitchShifts` x
    /// `parameters.timeScales`. The audio is analysed at `parameters.queryShifts` evenly spaced
    /// sub-hop starts and the landmarks merged: an excerpt rarely starts on the master's frame grid.
    public func query(samples: [Float]) -> Query {
        let p = parameters
        let shifts = max(1, p.queryShifts)
        var seen = Set<Int64>()
        var pairs: [Pair] = []
        for s in 0..<shifts {
            let skip = s * p.hop / shifts
            guard skip < samples.count else { break }
            let offset = Float(skip) / Float(p.hop)
            for pair in self.pairs(peaks(samples: Array(samples[skip...]))) {
                let shifted = Pair(time: pair.time + offset, pitch: pair.pitch, interval: pair.interval, span: pair.span)
                guard let identity = hash(shifted, pitchShift: 0, timeScale: 1) else { continue }
                // The same landmark found again by another analysis is kept once.
                if seen.insert(Int64(identity.value) << 32 | Int64(Int32(shifted.time.rounded()))).inserted {
                    pairs.append(shifted)
                }
            }
        }
        var landmarks: [QueryLandmark] = []
        var probes: [Probe] = []
        landmarks.reserveCapacity(pairs.count)
        probes.reserveCapacity(pairs.count * p.pitchShifts.count * p.timeScales.count)
        for pair in pairs {
            let index = Int32(landmarks.count)
            landmarks.append(QueryLandmark(time: pair.time, pitch: pair.pitch))
            for (si, shift) in p.pitchShifts.enumerated() {
                for (ti, scale) in p.timeScales.enumerated() {
                    if let h = hash(pair, pitchShift: shift, timeScale: scale) {
                        probes.append(Probe(hash: h, landmark: index, pitchIndex: UInt8(si), scaleIndex: UInt8(ti)))
                    }
                }
            }
        }
        let frames = Int32(samples.count / p.hop)
        return Query(landmarks: landmarks, probes: probes, frameCount: frames)
    }

    /// An anchor and its target on the semitone scale, with the anchor's time in frames.
    struct Pair {
        let time: Float
        let pitch: Float
        let interval: Float
        let span: Float
    }

    /// Each anchor with the next `fanout` peaks of its target zone (close enough in time and
    /// pitch): indices into `peaks`, with the pitch interval in semitones.
    public func pairedIndices(_ peaks: [Peak]) -> [(anchor: Int, target: Int, interval: Float)] {
        let p = parameters
        let pitches = peaks.map { Float(p.pitch(ofBin: Double($0.fineBin))) }
        var result: [(anchor: Int, target: Int, interval: Float)] = []
        result.reserveCapacity(peaks.count * p.fanout)
        for (i, anchor) in peaks.enumerated() {
            var paired = 0
            var j = i + 1
            while j < peaks.count, paired < p.fanout {
                let target = peaks[j]
                let interval = pitches[j] - pitches[i]
                j += 1
                let dt = target.frame - anchor.frame
                if dt > p.maxFrameDelta { break }
                guard dt >= p.minFrameDelta, abs(Double(interval)) <= p.maxPitchDelta else { continue }
                result.append((i, j - 1, interval))
                paired += 1
            }
        }
        return result
    }

    func pairs(_ peaks: [Peak]) -> [Pair] {
        let pitches = peaks.map { Float(parameters.pitch(ofBin: Double($0.fineBin))) }
        return pairedIndices(peaks).map { pair in
            Pair(time: peaks[pair.anchor].fineFrame, pitch: pitches[pair.anchor], interval: pair.interval,
                 span: peaks[pair.target].fineFrame - peaks[pair.anchor].fineFrame)
        }
    }

    /// The power spectrogram the peaks are picked from.
    public func spectrogram(samples: [Float]) -> Spectrogram {
        stft.powerSpectrogram(samples, sampleRate: parameters.sampleRate)
    }

    /// The hash of a pair whose pitches are raised by `pitchShift` semitones and whose times are
    /// stretched by `timeScale`: the master's hash if the query is the master transformed back.
    func hash(_ pair: Pair, pitchShift: Double, timeScale: Double) -> LandmarkHash? {
        let p = parameters
        let anchor = Int(((Double(pair.pitch) + pitchShift) / p.anchorPitchStep).rounded(.down))
        let interval = Int((Double(pair.interval) / p.pitchDeltaStep).rounded())
        let frames = Int((Double(pair.span) * timeScale).rounded())
        return LandmarkHash(anchorCell: anchor, intervalCell: interval, frameDelta: frames)
    }
}

/// A landmark of a query: its anchor's time (fractional frames) and pitch (semitones).
public struct QueryLandmark: Sendable, Equatable {
    public let time: Float
    public let pitch: Float
    public init(time: Float, pitch: Float) {
        self.time = time
        self.pitch = pitch
    }
}

/// One hash to look up: a query landmark under one transform.
public struct Probe: Sendable, Equatable {
    public let hash: LandmarkHash
    public let landmark: Int32
    /// Indices into `FingerprintParameters.pitchShifts` and `.timeScales`.
    public let pitchIndex: UInt8
    public let scaleIndex: UInt8
    public init(hash: LandmarkHash, landmark: Int32, pitchIndex: UInt8, scaleIndex: UInt8) {
        self.hash = hash
        self.landmark = landmark
        self.pitchIndex = pitchIndex
        self.scaleIndex = scaleIndex
    }
}

/// What the matcher needs of a query.
public struct Query: Sendable {
    public let landmarks: [QueryLandmark]
    public let probes: [Probe]
    /// Length of the query in frames.
    public let frameCount: Int32

    public init(landmarks: [QueryLandmark], probes: [Probe], frameCount: Int32) {
        self.landmarks = landmarks
        self.probes = probes
        self.frameCount = frameCount
    }
}
