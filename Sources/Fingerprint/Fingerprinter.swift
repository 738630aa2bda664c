import Spectral

/// Mono samples at `parameters.sampleRate` in, landmark hashes out.
public struct Fingerprinter: Sendable {
    public let parameters: FingerprintParameters
    private let stft: STFT

    public init(parameters: FingerprintParameters = .current) {
        self.parameters = parameters
        self.stft = STFT(size: parameters.fftSize, hop: parameters.hop)
    }

    public func landmarks(samples: [Float]) -> [Landmark] {
        let spectrogram = stft.powerSpectrogram(samples, sampleRate: parameters.sampleRate)
        return landmarks(peaks: PeakPicker(parameters: parameters).peaks(in: spectrogram))
    }

    /// Landmarks of a query, analysed at `parameters.queryShifts` evenly spaced sub-hop starts and
    /// merged. An excerpt rarely starts on the master's frame grid; one of the shifted analyses
    /// lands within hop/shifts of it, so its peaks fall in the same frames as the master's.
    public func queryLandmarks(samples: [Float]) -> [Landmark] {
        let shifts = max(1, parameters.queryShifts)
        var seen = Set<Landmark>()
        var merged: [Landmark] = []
        for s in 0..<shifts {
            let skip = s * parameters.hop / shifts
            guard skip < samples.count else { break }
            for landmark in landmarks(samples: Array(samples[skip...])) where seen.insert(landmark).inserted {
                merged.append(landmark)
            }
        }
        return merged
    }

    /// Pairs each anchor with the next `fanout` peaks of its target zone. `peaks` are sorted by
    /// frame, then bin.
    public func landmarks(peaks: [Peak]) -> [Landmark] {
        let p = parameters
        var result: [Landmark] = []
        result.reserveCapacity(peaks.count * p.fanout)
        for (i, anchor) in peaks.enumerated() {
            var paired = 0
            var j = i + 1
            while j < peaks.count, paired < p.fanout {
                let target = peaks[j]
                j += 1
                let dt = target.frame - anchor.frame
                if dt > p.maxFrameDelta { break }
                let df = target.bin - anchor.bin
                guard dt >= p.minFrameDelta, abs(df) <= p.maxBinDelta,
                      let hash = LandmarkHash(anchorBin: anchor.bin, binDelta: df, frameDelta: dt) else { continue }
                result.append(Landmark(hash: hash, frame: Int32(anchor.frame)))
                paired += 1
            }
        }
        return result
    }
}
