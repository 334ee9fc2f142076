{#- The example devices' waveform memory, included in their drivers'
    classes: the including driver sets def, await and the two command
    words that tell the device a waveform's and an acquisition's length. #}
    # Samples the waveform memory holds, and an acquisition returns at
    # most: a real instrument's memory depth. Checked before anything is
    # allocated, so that no request can make the controller run out.
    MEMORY_DEPTH = 16 * 1024 * 1024

    {{ def }} upload(self, data: numpy.ndarray):
        """Load ``data``, float64 samples (up to MEMORY_DEPTH of them), into
        the waveform memory, in place of what it held; samples that do not
        cast to float64 (complex, text) are refused, and the memory kept."""
        samples = numpy.asarray(data)
        if samples.size > self.MEMORY_DEPTH:
            raise ValueError(f"{samples.size} samples are more than the "
                             f"waveform memory holds ({self.MEMORY_DEPTH})")
        # "same_kind": whole numbers are samples; a complex number (its
        # imaginary part would be dropped), text or an object is not.
        if not numpy.can_cast(samples.dtype, numpy.float64, "same_kind"):
            raise TypeError(f"a waveform is float64 samples: "
                            f"{samples.dtype} does not cast to float64")
        waveform = samples.astype(numpy.float64)
        if waveform.ndim != 1 or not numpy.isfinite(waveform).all():
            raise ValueError("a waveform is a list of finite samples")
        {{ await }}self._transport.write_line(f"{{ waveform_command }} {len(waveform)}")
        self._waveform = waveform

    {{ def }} acquire(self, n: int) -> numpy.ndarray:
        """Acquire ``n`` float64 samples, up to MEMORY_DEPTH: the waveform
        memory, played in a loop (zeros while it is empty)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a whole number of samples, not "
                             f"{n!r}")
        if n > self.MEMORY_DEPTH:
            raise ValueError(f"{n} samples are more than an acquisition "
                             f"holds ({self.MEMORY_DEPTH})")
        {{ await }}self._transport.write_line(f"{{ acquire_command }} {n}")
        if not len(self._waveform):
            return numpy.zeros(n)
        return numpy.resize(self._waveform, n)

    {{ def }} checksum(self) -> float:
        """Return the sum of the samples in the waveform memory."""
        return float(self._waveform.sum())
