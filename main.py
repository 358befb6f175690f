from source_mixpanel_aep.run import run

if __name__ == "__main__":
    run()
