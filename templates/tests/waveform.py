{#- The example devices' waveform memory against the fake instrument: both
    example drivers have one (drivers/waveform.py). Included whole by
    their device tests, which give the driver fixture. -#}
def test_a_waveform_is_acquired_in_a_loop(driver, call):
    call(driver.upload([1.0, 2.0, 3.0]))
    assert list(call(driver.acquire(7))) == [1, 2, 3, 1, 2, 3, 1]
    assert call(driver.checksum()) == 6.0


def test_acquire_gives_zeros_before_any_upload(driver, call):
    assert list(call(driver.acquire(3))) == [0.0, 0.0, 0.0]
    assert call(driver.checksum()) == 0.0


@pytest.mark.parametrize("data", [[[1.0], [2.0]], [1.0, float("nan")]])
def test_an_unusable_waveform_is_refused_and_the_last_kept(driver, call,
                                                           data):
    call(driver.upload([5.0]))
    with pytest.raises(ValueError, match="a list of finite samples"):
        call(driver.upload(data))
    assert call(driver.checksum()) == 5.0


@pytest.mark.parametrize("n", [-1, 2.5, True])
def test_acquire_takes_a_whole_number_of_samples(driver, call, n):
    with pytest.raises(ValueError, match="whole number of samples"):
        call(driver.acquire(n))


def test_no_more_than_the_memory_depth_is_acquired_or_loaded(driver, call):
    """Refused before anything is allocated: acquire(100000000) would
    take 800 MB of the controller's memory, several times over."""
    call(driver.upload([5.0]))
    with pytest.raises(ValueError, match="more than an acquisition holds"):
        call(driver.acquire(100_000_000))
    with pytest.raises(ValueError, match="more than the waveform memory"):
        call(driver.upload(numpy.zeros(driver.MEMORY_DEPTH + 1)))
    assert call(driver.checksum()) == 5.0


@pytest.mark.parametrize("data", [
    pytest.param([1.0, 2.0 + 0.5j], id="complex"),
    pytest.param([1.0, "2.0"], id="text"),
    pytest.param([1.0, None], id="objects"),
])
def test_samples_that_do_not_cast_to_float64_are_refused_before_sending(
        driver, call, monkeypatch, data):
    """numpy's "same_kind" rule: no imaginary part dropped, no parsing."""
    call(driver.upload([5.0]))
    sent, write_line = [], driver._transport.write_line
    monkeypatch.setattr(driver._transport, "write_line",
                        lambda line: sent.append(line) or write_line(line))
    with pytest.raises(TypeError, match="does not cast to float64"):
        call(driver.upload(data))
    assert sent == []
    assert call(driver.checksum()) == 5.0


@pytest.mark.parametrize("data", [[0, 1, 2], [True, True, True]])
def test_whole_numbers_are_samples(driver, call, data):
    call(driver.upload(data))
    assert call(driver.checksum()) == 3.0
    assert str(call(driver.acquire(3)).dtype) == "float64"
